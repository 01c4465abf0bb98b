// Storage connections without I/O: the secret box under the master key, the field rules, the
// endpoint allow-list, the storage.master_key configuration and the S3 options a connection makes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/config.hpp"
#include "core/crypto.hpp"
#include "storage/connection_model.hpp"
#include "storage/factory.hpp"
#include "storage/secret_box.hpp"

namespace kiln::storage {
namespace {

constexpr std::string_view kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
constexpr std::string_view kKeyB = "HxwdHhscGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

class SecretBoxTest : public ::testing::Test {
protected:
    void SetUp() override { core::init_crypto(); }
};

TEST_F(SecretBoxTest, SealsAndOpensUnderTheSameKey) {
    const auto box = SecretBox::from_base64(kKeyA);
    ASSERT_TRUE(box.has_value());
    const std::string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const auto sealed = box->seal(secret);
    EXPECT_EQ(sealed.nonce.size(), 24U);
    EXPECT_EQ(sealed.ciphertext.size(), secret.size() + 16);
    EXPECT_EQ(sealed.ciphertext.find(secret), std::string::npos);
    EXPECT_EQ(box->open(sealed), secret);

    const auto again = box->seal(secret);
    EXPECT_NE(again.nonce, sealed.nonce) << "a fresh nonce per seal";
    EXPECT_NE(again.ciphertext, sealed.ciphertext);
    EXPECT_EQ(box->open(again), secret);
}

TEST_F(SecretBoxTest, AnotherKeyOrAlteredBytesDoNotOpen) {
    const auto a = SecretBox::from_base64(kKeyA);
    const auto b = SecretBox::from_base64(kKeyB);
    ASSERT_TRUE(a && b);
    const auto sealed = a->seal("secret");
    EXPECT_FALSE(b->open(sealed).has_value());

    auto flipped = sealed;
    flipped.ciphertext[0] = static_cast<char>(flipped.ciphertext[0] ^ 1);
    EXPECT_FALSE(a->open(flipped).has_value());
    auto other_nonce = sealed;
    other_nonce.nonce[5] = static_cast<char>(other_nonce.nonce[5] ^ 1);
    EXPECT_FALSE(a->open(other_nonce).has_value());
    EXPECT_FALSE(a->open({sealed.nonce.substr(1), sealed.ciphertext}).has_value());
    EXPECT_FALSE(a->open({sealed.nonce, sealed.ciphertext.substr(0, 10)}).has_value());
}

TEST_F(SecretBoxTest, TheKeyIsThirtyTwoBytesOfStandardBase64) {
    EXPECT_FALSE(SecretBox::from_base64("").has_value());
    EXPECT_FALSE(SecretBox::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==").has_value()) << "31 bytes";
    EXPECT_FALSE(SecretBox::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").has_value()) << "unpadded";
    EXPECT_FALSE(SecretBox::from_base64("not base64 at all, not at all, not at all!!").has_value());
}

TEST(ConnectionRules, Buckets) {
    for (const std::string& ok : {std::string("kiln-test"), std::string("abc"), std::string("my.bucket.name"),
                                  std::string("a1b2"), std::string(63, 'b')}) {
        EXPECT_FALSE(bucket_problem(ok).has_value()) << ok;
    }
    for (const std::string& bad :
         {std::string("ab"), std::string(64, 'b'), std::string("Upper"), std::string("under_score"),
          std::string("-start"), std::string("end-"), std::string(".dot"), std::string("a..b"),
          std::string("192.168.1.10"), std::string("xn--bucket"), std::string("sthree-x"), std::string("b-s3alias"),
          std::string("b--ol-s3"), std::string("space here")}) {
        EXPECT_TRUE(bucket_problem(bad).has_value()) << bad;
    }
}

TEST(ConnectionRules, Endpoints) {
    for (const char* ok : {"https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:4568", "http://127.0.0.1:4568/",
                           "https://[::1]:9000", "http://MinIO.Example.com"}) {
        EXPECT_FALSE(endpoint_problem(ok).has_value()) << ok;
    }
    for (const char* bad : {"", "ftp://host", "s3.amazonaws.com", "http://", "http://user:pw@host", "http://host/path",
                            "http://host?x=1", "http://host#f", "http://host:0", "http://host:65536", "http://host:12a",
                            "http://ho st", "https://[zz]:1", "http://host:"}) {
        EXPECT_TRUE(endpoint_problem(bad).has_value()) << bad;
    }
}

TEST(ConnectionRules, TheAllowListMatchesHostsPortsAndSubdomains) {
    const std::vector<std::string> hosts{"*.amazonaws.com", "127.0.0.1:4568", "minio.internal", "[::1]"};
    EXPECT_TRUE(host_allowed("https://s3.eu-west-1.amazonaws.com", hosts));
    EXPECT_TRUE(host_allowed("https://S3.AmazonAWS.com", hosts));
    EXPECT_FALSE(host_allowed("https://amazonaws.com", hosts)) << "*.domain is the names under it";
    EXPECT_FALSE(host_allowed("https://evilamazonaws.com", hosts));
    EXPECT_TRUE(host_allowed("http://127.0.0.1:4568", hosts));
    EXPECT_FALSE(host_allowed("http://127.0.0.1:4569", hosts));
    EXPECT_FALSE(host_allowed("http://127.0.0.1", hosts)) << "port 80 is not 4568";
    EXPECT_TRUE(host_allowed("http://minio.internal:9000", hosts)) << "a host without port allows any port";
    EXPECT_TRUE(host_allowed("https://[::1]:9000", hosts));
    EXPECT_FALSE(host_allowed("http://169.254.169.254", hosts));
    EXPECT_FALSE(host_allowed("http://localhost:4568", hosts));
    EXPECT_FALSE(host_allowed("not a url", hosts));
    EXPECT_FALSE(host_allowed("http://127.0.0.1:4568", {}));
    EXPECT_TRUE(host_allowed("https://s3.amazonaws.com:443", {"s3.amazonaws.com:443"}));
    EXPECT_TRUE(host_allowed("https://s3.amazonaws.com", {"s3.amazonaws.com:443"})) << "the scheme's default port";

    const std::vector<std::string> labels{"s3.*.example.com", "*.s3.*.example.com"};
    EXPECT_TRUE(host_allowed("https://s3.eu-1.example.com", labels));
    EXPECT_TRUE(host_allowed("https://bucket.s3.eu-1.example.com", labels));
    EXPECT_TRUE(host_allowed("https://a.b.s3.eu-1.example.com", labels)) << "a leading * is any names";
    EXPECT_FALSE(host_allowed("https://s3.eu.1.example.com", labels)) << "an inner * is one label";
    EXPECT_FALSE(host_allowed("https://ec2-10-0-0-1.compute-1.example.com", labels));
    EXPECT_FALSE(host_allowed("https://s3.example.com", labels));
}

TEST(ConnectionRules, OtherFields) {
    EXPECT_FALSE(name_problem("Archive bucket").has_value());
    EXPECT_TRUE(name_problem("").has_value());
    EXPECT_TRUE(name_problem(std::string(101, 'n')).has_value());
    EXPECT_TRUE(name_problem("tab\there").has_value());
    EXPECT_TRUE(name_problem(" padded").has_value());
    EXPECT_FALSE(region_problem("us-east-1").has_value());
    EXPECT_FALSE(region_problem("auto").has_value());
    EXPECT_TRUE(region_problem("").has_value());
    EXPECT_TRUE(region_problem("us east").has_value());
    EXPECT_FALSE(access_key_id_problem("AKIAIOSFODNN7EXAMPLE").has_value());
    EXPECT_TRUE(access_key_id_problem("a:b").has_value()) << "libcurl splits key:secret at the first colon";
    EXPECT_TRUE(access_key_id_problem("").has_value());
    EXPECT_FALSE(secret_problem("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").has_value());
    EXPECT_TRUE(secret_problem("").has_value());
    EXPECT_TRUE(secret_problem("new\nline").has_value());
    EXPECT_TRUE(secret_problem(std::string(257, 's')).has_value());
}

TEST(ConnectionRules, ErrorsNeverCarryTheSecret) {
    EXPECT_EQ(redact("denied for s3cr3t, s3cr3t again", "s3cr3t"), "denied for [redacted], [redacted] again");
    EXPECT_EQ(redact("no secret here", "s3cr3t"), "no secret here");
    EXPECT_EQ(redact("a secret inside the marker", "e"),
              "a s[redacted]cr[redacted]t insid[redacted] th[redacted] mark[redacted]r")
        << "the replacement is not searched again";
    EXPECT_EQ(redact("unchanged", ""), "unchanged");
}

TEST(ConnectionRules, ARequestGetsOneErrorPerBadField) {
    CreateStorageConnection c{"", "http://10.0.0.5:9000", "us east", "Bad_Bucket", "a:b", "", std::nullopt};
    core::Validator v;
    validate(c, {"*.amazonaws.com"}, v);
    std::vector<std::string> fields;
    for (const auto& e : v.errors()) fields.push_back(e.field);
    EXPECT_EQ(fields,
              (std::vector<std::string>{"name", "endpoint", "region", "bucket", "access_key_id", "secret_access_key"}));
    for (const auto& e : v.errors()) EXPECT_EQ(e.message.find("Bad_Bucket"), std::string::npos) << e.message;

    UpdateStorageConnection u;
    u.bucket = "ok-bucket";
    core::Validator fine;
    validate(u, {}, fine);
    EXPECT_TRUE(fine.ok()) << "absent fields are not checked";
    u.endpoint = "https://s3.amazonaws.com";
    core::Validator refused;
    validate(u, {"minio.internal"}, refused);
    ASSERT_EQ(refused.errors().size(), 1U);
    EXPECT_EQ(refused.errors()[0].field, "endpoint");
}

TEST_F(SecretBoxTest, AConnectionMakesS3OptionsWithItsOpenedSecret) {
    const auto box = SecretBox::from_base64(kKeyA);
    ASSERT_TRUE(box.has_value());
    ConnectionAccess c;
    c.endpoint = "http://127.0.0.1:4568";
    c.region = "eu-central-1";
    c.bucket = "kiln-test";
    c.access_key_id = "S3RVER";
    c.secret = box->seal("S3RVER-secret");
    c.path_style = false;
    const std::vector<std::string> hosts{"127.0.0.1"};
    const auto o = s3_options(c, *box, hosts);
    EXPECT_EQ(o.endpoint, c.endpoint);
    EXPECT_EQ(o.region, "eu-central-1");
    EXPECT_EQ(o.bucket, "kiln-test");
    EXPECT_EQ(o.credentials.access_key_id, "S3RVER");
    EXPECT_EQ(o.credentials.secret_access_key, "S3RVER-secret");
    EXPECT_FALSE(o.path_style);

    const auto other = SecretBox::from_base64(kKeyB);
    try {
        s3_options(c, *other, hosts);
        FAIL() << "another master key must not open the secret";
    } catch (const StorageError& e) {
        EXPECT_NE(std::string(e.what()).find("storage.master_key"), std::string::npos) << e.what();
    }
    EXPECT_THROW(s3_options(c, *box, {"minio.internal"}), StorageError) << "the allow-list holds at use too";
}

class MasterKeyConfig : public ::testing::Test {
protected:
    static core::Config load(std::map<std::string, std::string> vars) {
        auto c =
            core::Config::load("", [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
                auto it = vars.find(name);
                if (it == vars.end()) return std::nullopt;
                return it->second;
            });
        c.resolve_secrets();
        return c;
    }
    void TearDown() override {
        if (!file_.empty()) std::filesystem::remove(file_);
    }
    std::string write(const std::string& text) {
        file_ = std::filesystem::temp_directory_path() /
                ("kiln_master_key_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
        std::ofstream(file_) << text;
        return file_.string();
    }
    std::filesystem::path file_;
};

TEST_F(MasterKeyConfig, ComesFromTheEnvironmentOrAFile) {
    EXPECT_TRUE(load({}).storage.master_key.empty()) << "no built-in default";
    EXPECT_EQ(load({{"KILN_STORAGE_MASTER_KEY", std::string(kKeyA)}}).storage.master_key, kKeyA);
    std::string line(kKeyB);
    line.push_back('\n');  // as echo writes it (std::string + "\n" trips g++ 12's -Warray-bounds here)
    const auto from_file = load({{"KILN_STORAGE_MASTER_KEY_FILE", write(line)}});
    EXPECT_EQ(from_file.storage.master_key, kKeyB);
    EXPECT_TRUE(SecretBox::from_base64(from_file.storage.master_key).has_value());
}

TEST_F(MasterKeyConfig, AMalformedKeyIsRefusedWithoutShowingIt) {
    const std::string bad = "c2hvcnQta2V5LXRoYXQtaXMtbm90LTMyLWJ5dGVz";
    try {
        load({{"KILN_STORAGE_MASTER_KEY", bad}});
        FAIL() << "a key that is not 32 bytes of base64 must be refused";
    } catch (const core::ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("storage.master_key"), std::string::npos) << what;
        EXPECT_EQ(what.find(bad), std::string::npos) << "the value is never shown: " << what;
    }
}

TEST_F(MasterKeyConfig, ConnectionHostsDefaultToPublicProvidersAndAreChecked) {
    const auto c = load({});
    const auto& hosts = c.storage.connection_hosts;
    for (const char* s3 : {"https://s3.amazonaws.com", "https://s3.eu-west-1.amazonaws.com",
                           "https://media.s3.eu-west-1.amazonaws.com", "https://acct.r2.cloudflarestorage.com",
                           "https://fra1.digitaloceanspaces.com", "https://s3.us-west-004.backblazeb2.com",
                           "https://s3.eu-central-1.wasabisys.com", "https://storage.googleapis.com"}) {
        EXPECT_TRUE(host_allowed(s3, hosts)) << s3;
    }
    // Inside AWS, EC2's public names resolve to private addresses: not S3, not allowed.
    EXPECT_FALSE(host_allowed("http://ec2-10-0-0-1.compute-1.amazonaws.com", hosts));
    EXPECT_FALSE(host_allowed("http://127.0.0.1:9000", hosts));
    EXPECT_FALSE(host_allowed("http://169.254.169.254", hosts));
    const auto local = load({{"KILN_STORAGE_CONNECTION_HOSTS", "127.0.0.1,minio.internal:9000"}});
    EXPECT_EQ(local.storage.connection_hosts, (std::vector<std::string>{"127.0.0.1", "minio.internal:9000"}));
    EXPECT_THROW(load({{"KILN_STORAGE_CONNECTION_HOSTS", "http://minio"}}), core::ConfigError);
    EXPECT_EQ(load({{"KILN_STORAGE_CONNECTION_HOSTS", "s3.*.example.com,[::1]:9000"}}).storage.connection_hosts.size(),
              2U);
    for (const char* bad : {"*", "*.*", "s3*.example.com", "a..b", ".example.com"}) {
        EXPECT_THROW(load({{"KILN_STORAGE_CONNECTION_HOSTS", bad}}), core::ConfigError) << bad;
    }
}

}  // namespace
}  // namespace kiln::storage
