//! Token primitives: signed JWT access tokens, random opaque tokens and their hashes, HMAC links.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of personal API tokens, so they are recognisable in logs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "trg_";

/// Keys derived from the instance secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    link_secret: Vec<u8>,
}

/// Claims inside an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: i64,
    /// Role when issued (the live role is re-read on use).
    pub role: String,
    /// Issued at, seconds.
    pub iat: i64,
    /// Expiry, seconds.
    pub exp: i64,
}

impl Keys {
    /// Derives separate keys for JWTs and signed links from one secret.
    pub fn new(secret: &str) -> Keys {
        let jwt = derive(secret, b"triage-jwt");
        Keys {
            encoding: EncodingKey::from_secret(&jwt),
            decoding: DecodingKey::from_secret(&jwt),
            link_secret: derive(secret, b"triage-link"),
        }
    }

    /// Issues an access token valid for `ttl_secs` from `now_secs`.
    pub fn access_token(
        &self,
        user_id: i64,
        role: &str,
        now_secs: i64,
        ttl_secs: i64,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id,
            role: role.to_string(),
            iat: now_secs,
            exp: now_secs + ttl_secs,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies an access token's signature and expiry against `now_secs`.
    pub fn verify_access(&self, token: &str, now_secs: i64) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        // Expiry is checked against our clock below, not the library's.
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).ok()?;
        (data.claims.exp > now_secs).then_some(data.claims)
    }

    /// HMAC of a message with the link key, URL-safe base64.
    pub fn sign(&self, message: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.link_secret).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a signature made by `sign`.
    pub fn verify_signature(&self, message: &str, signature: &str) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.link_secret).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        mac.verify_slice(&raw).is_ok()
    }

    /// A short lowercase-hex HMAC tag (`hex_len` ≤ 64) for places that may change letter case
    /// or restrict characters: Message-IDs and e-mail local parts.
    pub fn short_tag(&self, message: &str, hex_len: usize) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.link_secret).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        let mut tag = hex::encode(mac.finalize().into_bytes());
        tag.truncate(hex_len.min(64));
        tag
    }

    /// Constant-time check of a `short_tag` (compared case-insensitively).
    pub fn verify_short_tag(&self, message: &str, tag: &str) -> bool {
        let expect = self.short_tag(message, tag.len());
        tag.len() >= 8
            && expect.len() == tag.len()
            && expect
                .bytes()
                .zip(tag.to_ascii_lowercase().bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn derive(secret: &str, label: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(label);
    h.update(secret.as_bytes());
    h.finalize().to_vec()
}

/// A random opaque token (256 bits, URL-safe).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 hex of a token: what the database stores instead of the token.
pub fn hash_token(token: &str) -> String {
    // Into a buffer: `hex::encode` collects chars one by one (2,000 instructions a request).
    let mut out = [0u8; 64];
    let digest = Sha256::digest(token.as_bytes());
    match hex::encode_to_slice(digest, &mut out).map(|()| String::from_utf8(out.to_vec())) {
        Ok(Ok(hex)) => hex,
        _ => hex::encode(digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_roundtrip_and_expire() {
        let k = Keys::new("secret");
        let t = k.access_token(7, "agent", 1000, 60).unwrap();
        assert_eq!(k.verify_access(&t, 1059).map(|c| c.sub), Some(7));
        assert!(k.verify_access(&t, 1060).is_none());
        assert!(Keys::new("other").verify_access(&t, 1000).is_none());
        assert!(k.verify_access("garbage", 1000).is_none());
    }

    #[test]
    fn token_hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_token("trg_x"), hex::encode(Sha256::digest(b"trg_x")));
    }

    #[test]
    fn signatures_verify_only_their_message() {
        let k = Keys::new("secret");
        let s = k.sign("TKT-1:7");
        assert!(k.verify_signature("TKT-1:7", &s));
        assert!(!k.verify_signature("TKT-1:8", &s));
        assert!(!k.verify_signature("TKT-1:7", "AAAA"));
    }
}
