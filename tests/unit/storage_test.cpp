// Blob keys, S3 addressing and presigned URLs (checked against AWS's documented example), and the
// storage.* configuration keys.
#include <gtest/gtest.h>

#include <map>

#include "core/config.hpp"
#include "storage/factory.hpp"
#include "storage/key.hpp"
#include "storage/sigv4.hpp"

namespace kiln::storage {
namespace {

TEST(BlobKey, AcceptsRelativeSlashSeparatedKeys) {
    for (const char* key : {"a", "files/2024/photo.jpg", "a b/c+d=e", "dots.in.name/..x/x..", "ünïcode/ключ"}) {
        EXPECT_NO_THROW(validate_key(key)) << key;
    }
    EXPECT_NO_THROW(validate_key(std::string(kMaxKeyBytes, 'k')));
}

TEST(BlobKey, RefusesKeysThatCouldEscapeTheRootOrAlias) {
    const std::string nul("a\0b", 3);
    for (const std::string& key :
         {std::string(), std::string("/etc/passwd"), std::string("../x"), std::string("a/../b"), std::string("a/.."),
          std::string("./a"), std::string("a//b"), std::string("a/"), std::string("a\nb"), std::string("a\x7f"), nul,
          std::string(kMaxKeyBytes + 1, 'k')}) {
        EXPECT_THROW(validate_key(key), InvalidKey) << key;
    }
    try {
        validate_key("a/../b");
        FAIL();
    } catch (const InvalidKey& e) {
        EXPECT_STREQ(e.what(), "invalid blob key: it has a '.' or '..' segment");
    }
}

TEST(S3Address, EncodesKeysLikeAwsUriEncode) {
    EXPECT_EQ(uri_encode("a b/c~d_e-f.g", true), "a%20b/c~d_e-f.g");
    EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
    EXPECT_EQ(uri_encode("+=&?%\xc3\xa9", true), "%2B%3D%26%3F%25%C3%A9");
}

TEST(S3Address, BuildsPathAndVirtualHostUrls) {
    const S3Location path("http://127.0.0.1:9000", "media", true);
    EXPECT_EQ(path.host(), "127.0.0.1:9000");
    EXPECT_EQ(path.url("a b/c.txt"), "http://127.0.0.1:9000/media/a%20b/c.txt");
    EXPECT_EQ(path.url("k", "partNumber=1&uploadId=x"), "http://127.0.0.1:9000/media/k?partNumber=1&uploadId=x");
    const S3Location vhost("https://s3.eu-west-1.amazonaws.com:443/", "media", false);
    EXPECT_EQ(vhost.host(), "media.s3.eu-west-1.amazonaws.com");
    EXPECT_EQ(vhost.url("x/y"), "https://media.s3.eu-west-1.amazonaws.com/x/y");
    for (const char* bad : {"s3.amazonaws.com", "ftp://h", "http://h/base", "http://user:pw@h", "http://"}) {
        EXPECT_THROW(S3Location(bad, "b", true), std::invalid_argument) << bad;
    }
    EXPECT_THROW(S3Location("http://h", "", true), std::invalid_argument);
}

// AWS S3 API reference, "Authenticating Requests: Using Query Parameters (AWS Signature Version
// 4)": the example GET of examplebucket/test.txt and its published signature.
TEST(S3Presign, ReproducesAwsDocumentedExample) {
    const S3Location where("https://s3.amazonaws.com", "examplebucket", false);
    const S3Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    const auto at = std::chrono::sys_days(std::chrono::year(2013) / 5 / 24);
    const auto url = presign_get_url(where, credentials, "us-east-1", "test.txt", at, std::chrono::seconds(86400));
    EXPECT_EQ(url,
              "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(S3Presign, SignsTheEncodedPathOfPathStyleUrls) {
    const S3Location where("http://127.0.0.1:4568", "b", true);
    const auto url = presign_get_url(where, {"id", "secret"}, "us-east-1", "a b/c", std::chrono::sys_days{},
                                     std::chrono::seconds(60));
    EXPECT_TRUE(url.starts_with("http://127.0.0.1:4568/b/a%20b/c?X-Amz-Algorithm=")) << url;
    EXPECT_NE(url, presign_get_url(where, {"id", "other"}, "us-east-1", "a b/c", std::chrono::sys_days{},
                                   std::chrono::seconds(60)));
}

core::Config load(std::map<std::string, std::string> vars) {
    return core::Config::load("", [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    });
}

TEST(StorageConfig, DefaultsToLocalFilesUnderKilnHome) {
    const auto c = load({});
    EXPECT_EQ(c.storage.backend, "local");
    EXPECT_EQ(local_root(c.storage, "/srv/kiln"), std::filesystem::path("/srv/kiln/blobs"));
    EXPECT_EQ(local_root(c.storage, ""), std::filesystem::path(".kiln/blobs"));
}

TEST(StorageConfig, S3NeedsEndpointBucketAndKeys) {
    const std::map<std::string, std::string> s3{
        {"KILN_STORAGE_BACKEND", "s3"},          {"KILN_STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000"},
        {"KILN_STORAGE_S3_BUCKET", "media"},     {"KILN_STORAGE_S3_ACCESS_KEY_ID", "id"},
        {"KILN_STORAGE_S3_PATH_STYLE", "false"}, {"KILN_STORAGE_S3_PART_SIZE_MB", "16"}};
    const auto c = load(s3);
    EXPECT_FALSE(c.storage.s3_path_style);
    EXPECT_THROW(s3_options(c.storage), core::ConfigError);  // no secret
    auto with_secret = s3;
    with_secret["KILN_STORAGE_S3_SECRET_ACCESS_KEY"] = "shh";
    const auto o = s3_options(load(with_secret).storage);
    EXPECT_EQ(o.part_size, 16U << 20U);
    EXPECT_EQ(o.credentials.secret_access_key, "shh");

    for (const auto& [name, value] : std::map<std::string, std::string>{{"KILN_STORAGE_S3_ENDPOINT", "minio:9000"},
                                                                        {"KILN_STORAGE_S3_BUCKET", ""},
                                                                        {"KILN_STORAGE_S3_ACCESS_KEY_ID", ""},
                                                                        {"KILN_STORAGE_S3_PART_SIZE_MB", "4"}}) {
        auto bad = s3;
        bad[name] = value;
        EXPECT_THROW(load(bad), core::ConfigError) << name;
    }
    EXPECT_THROW(load({{"KILN_STORAGE_BACKEND", "gcs"}}), core::ConfigError);
}

}  // namespace
}  // namespace kiln::storage
