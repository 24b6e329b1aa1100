#pragma once
// Keys and tokens made by another implementation (Python's `cryptography`, by a one-off
// script): the RS/PS/ES tokens carry {"sub": "dev1", "exp": 4102444800, "acl": {"pub":
// ["a/#"]}}; kJWKS holds the RSA key "r1" and the EC key "e1" of the *_KID tokens.
#include <string>

namespace emqxd::auth::test {

inline const std::string kRSA_PEM = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlczqZ6iS+jL7OIFEbb7T
Cpkm6gbUsJOm865jW9BouFnTG85vuMylzbsVRg/p3rOZsdArLYBKzN/ybzNNCGr8
M4OnlASU9TdeU4iJpZ3BzgRb/ZJ2pR8R71kP/YvTM5JSTdX2XrLgMuAocAMND/tv
jERQjWhlQ0NOwB/mSIleJqj7+9L2HTHJ7kcjMcoVV6nIGWByzRCt3GsfmXntkrCx
ru8dLPguHu5PBWjDaRAp/TNmHIiZjPTURdKbtzoRskmUAdy9d8/6t2DkY8g9ay4Q
bLp6sRzkmMv3xq+dYvjhPJ2rYNOcR/KQotPdsuUy6NRvrJUelX1x/Z87CQQmkceZ
9wIDAQAB
-----END PUBLIC KEY-----
)";
inline const std::string kEC256_PEM = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAET/QSHgADa7wvn1envGKugAMBfFsE
RozkzbBslqd0svmnII7tDW5ubkwHSV2m4RakZOMSPh7m4xTj8WAhzFmT9w==
-----END PUBLIC KEY-----
)";
inline const std::string kEC384_PEM = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEMbggyKtTMnC3YBc6evf4IEi0hT3FK2c+
xhoN1Y0nYNI5wix1y1rExYH44OeTuwz9HD3rEnm1oX81bWa9ck2WFxdX7WypDtay
+dXNsLI5aiKd7Imoa0bwC4UtYig7xUEr
-----END PUBLIC KEY-----
)";
inline const std::string kRS256 =
    R"(eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.PSh_HW135MsEumgqvNM2ebI_QR8JGSKm2dcqyJOCZSvliFAR8HYMpEOf3-Kidm5le0ondTLZYfYDXj9AvgXZeHo2DiDlM2Dk2KRb-w3vbsSS_T6p2zyY0cRx_QsIg4yzI1bf5v7BEbz7fU3dhZ1HgJbVDND9j36ChSWDnn8uANVHosz146RVQoSqnYh7XaPkwL82sbKsPdT0tcR-Eme8gBfYQmSF23n8eVLKkWeeSYOO3c53j6dgqbB2cniFH3rzxrVLiN62aeuSAI0S-VJYDOgYILikapZAxIxVqN4JrT9z2AUnfPmE5cqinCzimMvOknYZhbBde52UvBRX7NfGIQ)";
inline const std::string kRS512 =
    R"(eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.g8EvGpCJZ-VVYBEs9G3n52Hkx_UaYVfffl7Kp_1fRP0sfyBoEPn1zHocr-KuQH1K4QUSAn75FE2DTZr3Az_87P8qDeopNWszEtEkWYa5t_pTWY_ktcV3NNF09x_zRCxnOAkM3eTUkze25BA61wClJRb-aeqL4vZlNC2-RTZtaHNM32v7fHfN4WIHdREHjjLR39lhEPmeNXVtr1arnqxlQpTmKtCCs7ihd9CPMAydDeKDC9WmwLOj_O8HvXPiy6XyQDYaEs5MXzWXtRMtzliwX4oX6DxqRS9Mtxcw46ynw4c_m9ZcuRAJ9g0p9U9iK-5H20TFOQzqb56kjj-4Sos_lA)";
inline const std::string kPS256 =
    R"(eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.fvcweH6dAnmKtHQlEpOuDjr0SfolfICTMC4J9by7PxJcQhtdac8hjVZmhmd1VOS6jeyntptBqZPxWIJ8ymBYYXbrYlM2SRKRgXply74BPD2grmhvA9_wJNu_dQGJWCHOt-HZwjzktV4cLugE6hQrS9dFN02CY9GZDu08BOZiDw9rNs-hW_2ERbsB5aexK6AAK3nVFJO1cVWKidVGrI3VumUC-TFVJRGwoEmSmsh5797cumCBkWGdLakEJcHuLAmuUfIT1__rlRKNVZ-T8bicu8lDFNTmnk7-mfY1zbQ6z_DF0pYzOrNxMi6IRXVdAMUEUx6PDO85zMj2lj6EgMowqw)";
inline const std::string kES256 =
    R"(eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.BWC2OsRuV3hRSXZZuWouTkr7SZOkomK5ZNxvbqEbPSZjaE7aztMShrWrXO-NNwMlGc7Pc71uES09rGyhtw_GcA)";
inline const std::string kES384 =
    R"(eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.5hAQgrQU0QZlgMWBe4bnoaQVndavZJb7z_9jnqW7rixR5FzKJWUMGwnK6crxtacoXWc6QHkPQKwQ3kANC3pawEGUGciC29au1C-kVh4K8KS86yGfLveoA899UkanUj4f)";
inline const std::string kRS256_KID =
    R"(eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InIxIn0.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.BG1YdrR41lap1bLH5GngIsDxSLK4DW2aCWdUrbErTIk1HrUhU3nAcx1P_uGN20BEgcOYZqAzHMSF7yM7CsB7CfoPeXQzgM2ARlzYzyFHtY8Eku_63pjFjltUPpsLaBRuLl8a4FGYbzd8uhWaFAImntIE53Che_5-s1at7AubspfN9zW12KCljwGaUPE1NutQmckwd1hm7Rok2_n1uwOrwCPb4JqqUaGibVRy5ZyvAzBHPb874cdJqpOJHND8KEVpGwoxNsGbuzKj5XbsfkQfqKUfJM8mSQBerETFNg-DBJ3T7b5A08_PqZLfXG1_PufJdenekHlkz8KkUCQh1xjROg)";
inline const std::string kES256_KID =
    R"(eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImUxIn0.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.bqbDOSveQAwpuKh2MhYMMeLQ0xBA4aJZE8gjdYYv0byLNqC0agOwiEsCggWpVU9aG6yBNJ5u_tcbTdigT2Gh4Q)";
inline const std::string kJWKS =
    R"({"keys": [{"kty": "RSA", "kid": "r1", "use": "sig", "n": "lczqZ6iS-jL7OIFEbb7TCpkm6gbUsJOm865jW9BouFnTG85vuMylzbsVRg_p3rOZsdArLYBKzN_ybzNNCGr8M4OnlASU9TdeU4iJpZ3BzgRb_ZJ2pR8R71kP_YvTM5JSTdX2XrLgMuAocAMND_tvjERQjWhlQ0NOwB_mSIleJqj7-9L2HTHJ7kcjMcoVV6nIGWByzRCt3GsfmXntkrCxru8dLPguHu5PBWjDaRAp_TNmHIiZjPTURdKbtzoRskmUAdy9d8_6t2DkY8g9ay4QbLp6sRzkmMv3xq-dYvjhPJ2rYNOcR_KQotPdsuUy6NRvrJUelX1x_Z87CQQmkceZ9w", "e": "AQAB"}, {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "T_QSHgADa7wvn1envGKugAMBfFsERozkzbBslqd0svk", "y": "pyCO7Q1ubm5MB0ldpuEWpGTjEj4e5uMU4_FgIcxZk_c"}, {"kty": "oct", "kid": "o1", "k": "c2VjcmV0"}, {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}]})";

}  // namespace emqxd::auth::test
