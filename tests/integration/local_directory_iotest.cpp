// check_local_directory against a real file system: symbolic links that leave the root, '..',
// FIFOs, devices, files and missing paths are each refused; links that stay inside are fine.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/uuid.hpp"
#include "modules/uploads/local_directory.hpp"

namespace fs = std::filesystem;

namespace kiln::uploads {
namespace {

class LocalDirectoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        base_ = fs::temp_directory_path() / ("kiln-localdir-" + core::Uuid::v7().str());
        root_ = base_ / "root";
        fs::create_directories(root_ / "batch" / "deep");
        fs::create_directories(base_ / "outside");
        std::ofstream(root_ / "file.txt") << "x";
        ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);
        fs::create_directory_symlink(base_ / "outside", root_ / "escape");
        fs::create_directory_symlink("../outside", root_ / "relative-escape");
        fs::create_directory_symlink(root_ / "batch", root_ / "inner-link");
        fs::create_directory_symlink(root_, base_ / "root-link");
    }
    void TearDown() override { fs::remove_all(base_); }

    std::optional<std::string> problem(const fs::path& p, std::vector<std::string> roots = {}) {
        if (roots.empty()) roots.push_back(root_.string());
        return check_local_directory(p.string(), roots).problem;
    }

    fs::path base_;
    fs::path root_;
};

TEST_F(LocalDirectoryTest, ADirectoryInsideARootIsAcceptedAsItsRealPath) {
    const auto ok = check_local_directory((root_ / "batch" / "deep").string(), {root_.string()});
    EXPECT_FALSE(ok.problem);
    EXPECT_EQ(ok.resolved, fs::canonical(root_ / "batch" / "deep").string());
    EXPECT_FALSE(problem(root_)) << "the root itself";
    EXPECT_FALSE(problem(root_ / "batch/")) << "a trailing slash";
    const auto linked = check_local_directory((root_ / "inner-link").string(), {root_.string()});
    EXPECT_FALSE(linked.problem) << "a link that stays inside";
    EXPECT_EQ(linked.resolved, fs::canonical(root_ / "batch").string());
    EXPECT_FALSE(problem(root_ / "batch", {(base_ / "root-link").string()})) << "a root given through a link";
}

TEST_F(LocalDirectoryTest, SymbolicLinksLeavingTheRootAreRefused) {
    EXPECT_EQ(problem(root_ / "escape"),
              "is not inside one of the server's import roots (uploads.import_roots) once its symbolic links are "
              "followed");
    EXPECT_TRUE(problem(root_ / "relative-escape"));
    EXPECT_TRUE(problem(base_ / "root-link" / ".." / "outside"));
}

TEST_F(LocalDirectoryTest, DotDotIsRefusedEvenWhenItWouldStayInside) {
    EXPECT_EQ(problem(root_ / "batch" / ".." / "batch"), "must not contain '..' components");
    EXPECT_EQ(problem(root_ / ".."), "must not contain '..' components");
    EXPECT_FALSE(problem(root_ / "batch" / "." / "deep")) << "'.' is harmless";
}

TEST_F(LocalDirectoryTest, OnlyDirectoriesThatExistAreAccepted) {
    EXPECT_EQ(problem(root_ / "pipe"), "is a FIFO, not a directory");
    EXPECT_EQ(problem(root_ / "file.txt"), "is not a directory");
    EXPECT_EQ(problem(root_ / "missing"), "does not exist");
    EXPECT_EQ(problem("/dev/null", {"/dev"}), "is a device, not a directory");
}

TEST_F(LocalDirectoryTest, OutsideEveryRootNothingIsToldAboutThePath) {
    const std::string outside = "is not inside one of the server's import roots (uploads.import_roots)";
    EXPECT_EQ(problem(base_ / "outside"), outside);
    EXPECT_EQ(problem(base_ / "no-such-dir"), outside) << "not 'does not exist'";
    EXPECT_EQ(problem(root_.string() + "-sibling"), outside) << "a prefix of the name is not a parent";
}

TEST_F(LocalDirectoryTest, RelativePathsAndAnEmptyRootListAreRefused) {
    EXPECT_EQ(problem("batch"), "must be an absolute path");
    EXPECT_EQ(problem(""), "must be an absolute path");
    const auto closed = check_local_directory((root_ / "batch").string(), {});
    ASSERT_TRUE(closed.problem);
    EXPECT_NE(closed.problem->find("server paths are disabled"), std::string::npos);
    EXPECT_TRUE(problem(root_ / "batch", {(base_ / "no-such-root").string()})) << "a missing root admits nothing";
}

}  // namespace
}  // namespace kiln::uploads
