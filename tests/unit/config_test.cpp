#include "core/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace kiln::core {
namespace {

class ConfigTest : public ::testing::Test {
protected:
    std::string write(const std::string& text) {
        path_ = std::filesystem::temp_directory_path() /
                ("kiln_config_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".toml");
        std::ofstream(path_) << text;
        return path_.string();
    }
    void TearDown() override { std::filesystem::remove(path_); }

    Config::Env env(std::map<std::string, std::string> vars) {
        return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }

    std::filesystem::path path_;
};

TEST_F(ConfigTest, DefaultsNeedNoFile) {
    auto c = Config::load("", env({}));
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.server.body_limit, 1024U * 1024U);
    EXPECT_FALSE(c.cors.enabled);
    EXPECT_TRUE(c.database.password.empty());
    EXPECT_TRUE(c.database.pipeline);
}

TEST_F(ConfigTest, FileValuesApply) {
    auto c = Config::load(write("[server]\nport = 9090\nidle_timeout_ms = 1500\n[database]\npool_size = 4\n"), env({}));
    EXPECT_EQ(c.server.port, 9090);
    EXPECT_EQ(c.server.idle_timeout, Millis(1500));
    EXPECT_EQ(c.database.pool_size, 4U);
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
    auto c = Config::load(write("[server]\nport = 9090\n"),
                          env({{"KILN_SERVER_PORT", "7070"},
                               {"KILN_CORS_ENABLED", "true"},
                               {"KILN_CORS_ALLOW_ORIGINS", "https://a.example,https://b.example"}}));
    EXPECT_EQ(c.server.port, 7070);
    EXPECT_TRUE(c.cors.enabled);
    EXPECT_EQ(c.cors.allow_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
}

TEST_F(ConfigTest, BadValueNamesTheKey) {
    try {
        Config::load("", env({{"KILN_SERVER_PORT", "eighty"}}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("server.port"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    }
    EXPECT_THROW(Config::load(write("[server]\nport = 70000\n"), env({})), ConfigError);
    EXPECT_THROW(Config::load(write("[server]\naccess_log = \"yes please\"\n"), env({})), ConfigError);
    EXPECT_THROW(Config::load("", env({{"KILN_LOG_LEVEL", "loud"}})), ConfigError);
}

TEST_F(ConfigTest, UnknownKeysAreRefused) {
    try {
        Config::load(write("[server]\nprot = 1\n"), env({}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("server.prot"), std::string::npos) << e.what();
    }
}

// An environment variable of a section that names no key is refused, as an unknown key in the
// file is; the scripts' own variables (no section of the config) are not config keys.
TEST_F(ConfigTest, EnvironmentVariablesOfASectionMustNameAKey) {
    EXPECT_NO_THROW(Config::check_environment({"KILN_SERVER_PORT", "KILN_UPLOADS_IMPORT_ROOTS", "KILN_CPU_THREADS",
                                               "KILN_HOME", "KILN_CONFIG", "KILN_PG_SUPERUSER", "KILN_TEST_TEMPLATE"}));
    for (const auto* typo :
         {"KILN_UPLOADS_IMPORT_ROOT", "KILN_STORAGE_LOCAL_DIR", "KILN_DATABASE_PASSWORD_FLIE", "KILN_SERVER_"}) {
        try {
            Config::check_environment({"KILN_SERVER_PORT", typo});
            ADD_FAILURE() << typo << " was taken";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(typo), std::string::npos) << e.what();
        }
    }
}

TEST_F(ConfigTest, TrustedProxiesMustBeAddressesOrNetworks) {
    const auto ok =
        Config::load(write("[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n"), env({}));
    EXPECT_EQ(ok.server.trusted_proxies.size(), 3U);
    try {
        Config::load("", env({{"KILN_SERVER_TRUSTED_PROXIES", "127.0.0.1,proxy.internal"}}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("server.trusted_proxies"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("proxy.internal"), std::string::npos) << e.what();
    }
}

TEST_F(ConfigTest, SyntaxErrorNamesTheFile) {
    const auto p = write("[server\nport = 1\n");
    try {
        Config::load(p, env({}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
}

TEST_F(ConfigTest, CorsNeedsOrigins) {
    EXPECT_THROW(Config::load("", env({{"KILN_CORS_ENABLED", "1"}})), ConfigError);
}

TEST_F(ConfigTest, SecretsComeFromFiles) {
    auto c = Config::load("", env({{"KILN_DATABASE_PASSWORD_FILE", write("s3cret\n")}}));
    c.resolve_secrets();
    EXPECT_EQ(c.database.password, "s3cret");
    auto missing = Config::load("", env({{"KILN_DATABASE_PASSWORD_FILE", "/nonexistent/kiln-secret"}}));
    EXPECT_THROW(missing.resolve_secrets(), ConfigError);
}

TEST_F(ConfigTest, EnvironmentSecretWinsOverFile) {
    auto c = Config::load(
        "", env({{"KILN_DATABASE_PASSWORD", "from-env"}, {"KILN_DATABASE_PASSWORD_FILE", "/nonexistent/kiln-secret"}}));
    c.resolve_secrets();
    EXPECT_EQ(c.database.password, "from-env");
}

TEST_F(ConfigTest, FileThreadsDefaultAndBounds) {
    EXPECT_EQ(Config::load("", env({})).file_threads, 16U);
    EXPECT_EQ(Config::load(write("file_threads = 4\n"), env({})).file_threads, 4U);
    EXPECT_EQ(Config::load("", env({{"KILN_FILE_THREADS", "64"}})).file_threads, 64U);
    EXPECT_THROW(Config::load("", env({{"KILN_FILE_THREADS", "0"}})), ConfigError);
    EXPECT_THROW(Config::load("", env({{"KILN_FILE_THREADS", "1025"}})), ConfigError);
}

TEST_F(ConfigTest, EveryKeyHasAnEnvironmentName) {
    const auto keys = Config::keys();
    ASSERT_FALSE(keys.empty());
    for (const auto& [key, env_var] : keys) EXPECT_EQ(env_var, env_name(key));
    EXPECT_EQ(env_name("database.pool_size"), "KILN_DATABASE_POOL_SIZE");
}

TEST_F(ConfigTest, ConninfoQuotesValues) {
    DatabaseConfig db;
    db.host = "/tmp/with space";
    db.password = "it's";
    const auto s = conninfo(db, false);
    EXPECT_NE(s.find("host='/tmp/with space'"), std::string::npos) << s;
    EXPECT_NE(s.find(R"(password='it\'s')"), std::string::npos) << s;
    EXPECT_NE(conninfo(db, true).find("user='kiln_owner'"), std::string::npos);
}

}  // namespace
}  // namespace kiln::core
