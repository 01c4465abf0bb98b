// Mail as it goes on the wire, and the retry schedule: pure functions, no I/O.
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "mail/model.hpp"

namespace kiln::mail {
namespace {

const auto kId = *core::Uuid::parse("0190a2b4-0000-7000-8000-0000000000a1");
constexpr std::time_t kDate = 1700000000;  // Tue, 14 Nov 2023 22:13:20 UTC

TEST(MailFormat, WritesRfc5322HeadersThenTheBodyWithCrlfLineEnds) {
    const Message m{"ann@example.com", "Hello", "line one\nline two\n"};
    const auto text = format_rfc5322(m, "Kiln <no-reply@kiln.example>", kId, kDate);
    EXPECT_EQ(text,
              "From: Kiln <no-reply@kiln.example>\r\n"
              "To: ann@example.com\r\n"
              "Subject: Hello\r\n"
              "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
              "Message-ID: <0190a2b4-0000-7000-8000-0000000000a1@kiln.example>\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n"
              "\r\n"
              "line one\r\n"
              "line two\r\n"
              "\r\n");
}

TEST(MailFormat, EncodesANonAsciiSubjectAndNeverLetsAValueAddAHeader) {
    const Message m{"ann@example.com\r\nBcc: eve@example.com", "Caf\xc3\xa9\nX-Evil: 1", "body"};
    const auto text = format_rfc5322(m, "no-reply@kiln.example", kId, kDate);
    EXPECT_NE(text.find("To: ann@example.com  Bcc: eve@example.com\r\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
    EXPECT_EQ(text.find("\r\nX-Evil:"), std::string::npos);
    EXPECT_NE(text.find("Subject: =?UTF-8?B?Q2Fmw6kgWC1FdmlsOiAx?=\r\n"), std::string::npos) << text;
}

TEST(MailFormat, AddressOfTakesTheAngleBracketPart) {
    EXPECT_EQ(address_of("Kiln <no-reply@kiln.example>"), "no-reply@kiln.example");
    EXPECT_EQ(address_of("no-reply@kiln.example"), "no-reply@kiln.example");
}

TEST(MailBackoff, DoublesFromTheBaseAndStopsAtAnHour) {
    using std::chrono::milliseconds;
    EXPECT_EQ(backoff(1, milliseconds(30000)), milliseconds(30000));
    EXPECT_EQ(backoff(2, milliseconds(30000)), milliseconds(60000));
    EXPECT_EQ(backoff(4, milliseconds(30000)), milliseconds(240000));
    EXPECT_EQ(backoff(40, milliseconds(30000)), std::chrono::hours(1));
}

TEST(MailLinks, JoinBaseAndPathWithOneSlash) {
    EXPECT_EQ(link("https://kiln.example/", "/verify-email", "abc"), "https://kiln.example/verify-email?token=abc");
    EXPECT_EQ(link("http://127.0.0.1:8080", "/reset-password", "t"), "http://127.0.0.1:8080/reset-password?token=t");
}

TEST(MailTemplates, CarryTheLinkAndHowLongItWorks) {
    const auto reset = password_reset_mail("ann@example.com", "https://k/reset-password?token=T", 1800);
    EXPECT_EQ(reset.to, "ann@example.com");
    EXPECT_NE(reset.body.find("https://k/reset-password?token=T"), std::string::npos);
    EXPECT_NE(reset.body.find("30 minutes"), std::string::npos);
    const auto invite =
        invitation_mail("bob@example.com", "Acme", "admin", "https://k/accept-invitation?token=I", 7 * 86400);
    EXPECT_EQ(invite.subject, "You are invited to Acme on Kiln");
    EXPECT_NE(invite.body.find("as an admin"), std::string::npos);
    EXPECT_NE(invite.body.find("7 days"), std::string::npos);
}

}  // namespace
}  // namespace kiln::mail
