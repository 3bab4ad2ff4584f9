//! Streaming uploads: bytes go to a temporary file while they are hashed and counted, so a
//! large file is never held in memory; the type is sniffed from the first bytes and checked
//! against what the client claims; the finished file moves to its content-addressed place.

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncWriteExt;

use super::{Blobs, NewAttachment, Refusal, sniff};

/// Why an upload was refused, for the client.
#[derive(Debug)]
pub enum UploadError {
    /// Too large (413).
    TooLarge(String),
    /// Refused for its content (400).
    Refused(String),
    /// No bytes at all (an empty file input of a plain HTML form).
    Empty,
    /// Storage trouble (500).
    Io(std::io::Error),
    /// The request body broke off.
    Body(String),
}

const SNIFF_BYTES: usize = 8192;

/// Stores one uploaded file from a stream of chunks, refusing it past `max` bytes.
pub async fn store_stream<S, E>(
    blobs: &Blobs,
    filename: &str,
    declared: Option<&str>,
    mut chunks: S,
    max: usize,
) -> Result<NewAttachment, UploadError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let tmp_dir = blobs.spool_dir();
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(UploadError::Io)?;
    let tmp = tmp_dir.join(format!("upload-{}", uuid::Uuid::new_v4()));
    let result = write_and_hash(&tmp, filename, &mut chunks, max).await;
    let (sha, size, head) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    let checked = sniff(&head, filename).map_err(|r| match r {
        Refusal::Executable => {
            UploadError::Refused(format!("{filename}: executable files are not accepted"))
        }
        Refusal::TooLarge => UploadError::TooLarge(format!("{filename} is too large")),
    });
    let content_type = match checked.and_then(|sniffed| consistent(filename, declared, sniffed)) {
        Ok(t) => t,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    blobs
        .put_file(&tmp, &sha, size)
        .await
        .map_err(UploadError::Io)?;
    Ok(NewAttachment {
        filename: filename.to_string(),
        content_type,
        size: size as i64,
        sha256: sha,
        inline_cid: None,
    })
}

async fn write_and_hash<S, E>(
    tmp: &Path,
    filename: &str,
    chunks: &mut S,
    max: usize,
) -> Result<(String, usize, Vec<u8>), UploadError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(tmp)
        .await
        .map_err(UploadError::Io)?;
    let mut hasher = Sha256::new();
    let mut size = 0usize;
    let mut head = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
        size += chunk.len();
        if size > max {
            return Err(UploadError::TooLarge(format!(
                "{filename} is larger than {} MB",
                max / (1024 * 1024)
            )));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(UploadError::Io)?;
    }
    if size == 0 {
        return Err(UploadError::Empty);
    }
    file.sync_all().await.map_err(UploadError::Io)?;
    Ok((hex::encode(hasher.finalize()), size, head))
}

/// The type a name's extension implies, for the types we can recognise by content.
fn by_extension(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => return None,
    })
}

/// Refuses a file whose content is one recognisable type while its name or declared type
/// claims another (a PDF named `.png`, a PNG sent as `application/pdf`).
fn consistent(
    filename: &str,
    declared: Option<&str>,
    sniffed: String,
) -> Result<String, UploadError> {
    let recognised = !sniffed.starts_with("text/") && sniffed != "application/octet-stream";
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let claims: Vec<String> = by_extension(filename)
        .map(str::to_string)
        .into_iter()
        .chain(declared.filter(|d| d.starts_with("image/") || d == "application/pdf"))
        .collect();
    for claim in claims {
        let mismatch = if recognised {
            claim != sniffed && !(claim == "image/jpeg" && sniffed == "image/jpg")
        } else {
            true
        };
        if mismatch {
            return Err(UploadError::Refused(format!(
                "{filename}: the content is {sniffed}, not {claim}"
            )));
        }
    }
    Ok(sniffed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_declared_types_must_match_the_content() {
        assert!(consistent("a.png", Some("image/png"), "image/png".into()).is_ok());
        assert!(consistent("a.png", None, "application/pdf".into()).is_err());
        assert!(consistent("a.pdf", Some("image/png"), "application/pdf".into()).is_err());
        assert!(consistent("notes.txt", Some("text/plain"), "text/plain".into()).is_ok());
        assert!(
            consistent("x.png", None, "text/plain".into()).is_err(),
            "text posing as an image"
        );
        assert!(consistent("data.bin", None, "application/octet-stream".into()).is_ok());
        assert!(consistent("README", Some("application/json"), "text/plain".into()).is_ok());
    }
}
