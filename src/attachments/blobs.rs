//! Where attachment bytes live, addressed by their SHA-256: files under the data directory by
//! default, or an S3-compatible bucket (object_store) when `storage_url` names one. Uploads are
//! always spooled to a local temporary file first (hashed and sniffed on the way), so neither
//! store ever holds a whole large file in memory.

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

use crate::config::Config;

/// Bytes of one part of an S3 multipart upload (S3's smallest allowed part is 5 MiB).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// The attachment byte store of this instance.
pub struct Blobs {
    /// `<data dir>/attachments`: the local store, and the spool for uploads in either mode.
    root: PathBuf,
    remote: Option<Remote>,
}

struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

/// A stream of a stored file's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

impl Blobs {
    /// The store `config` describes: S3 when `storage_url` is `s3://bucket[/prefix]` (credentials,
    /// region and endpoint from the standard AWS environment, overridden by `storage_options`),
    /// else the data directory.
    pub fn from_config(config: &Config) -> anyhow::Result<Blobs> {
        let root = config.data_dir.join("attachments");
        let url = config.storage_url.trim();
        if url.is_empty() {
            return Ok(Blobs { root, remote: None });
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            anyhow::bail!(
                "storage_url must be empty (local disk) or s3://bucket/prefix, not {url}"
            );
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            anyhow::bail!("storage_url {url} names no bucket");
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in &config.storage_options {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|e| anyhow::anyhow!("storage_options: unknown option {key}: {e}"))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .build()
            .map_err(|e| anyhow::anyhow!("storage_url {url}: {e}"))?;
        Ok(Blobs {
            root,
            remote: Some(Remote {
                store: Arc::new(store),
                prefix: prefix.trim_matches('/').to_string(),
                url: url.to_string(),
            }),
        })
    }

    /// Where uploads are spooled while they arrive.
    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes spool files older than `age`: uploads cut off by a crash or a killed process.
    /// Returns how many went. Younger files may belong to uploads in flight and stay.
    pub fn sweep_spool(&self, age: std::time::Duration) -> std::io::Result<usize> {
        let entries = match std::fs::read_dir(self.spool_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if stale && entry.path().is_file() && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Start-up sweep for the long-running processes that spool (`serve`, `worker`): spool
    /// files older than a day are left by a crash mid-upload. Logged, never fatal.
    pub fn sweep_stale_spool(&self) {
        match self.sweep_spool(std::time::Duration::from_secs(86_400)) {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed upload spool files left by a crash"),
            Err(e) => tracing::warn!(error = %e, "could not sweep the upload spool"),
        }
    }

    /// Says where the bytes go, for the start-up log.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => r.url.clone(),
            None => self.root.display().to_string(),
        }
    }

    /// Moves a finished, synced spool file to its content-addressed place (or drops it when
    /// the content is already stored). The spool file is gone afterwards either way.
    pub async fn put_file(&self, spooled: &Path, sha256: &str, size: usize) -> std::io::Result<()> {
        let result = match &self.remote {
            None => self.adopt_local(spooled, sha256).await,
            Some(r) => r.upload_file(spooled, sha256, size).await,
        };
        let _ = tokio::fs::remove_file(spooled).await;
        result
    }

    /// Stores bytes already in memory (a parsed e-mail's parts) and returns their SHA-256.
    pub async fn put_bytes(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        match &self.remote {
            Some(r) => {
                if !r.exists(&sha).await? {
                    r.store
                        .put(&r.key(&sha), PutPayload::from(bytes.to_vec()))
                        .await
                        .map_err(to_io)?;
                }
            }
            None => {
                let path = self.local_path(&sha);
                if !tokio::fs::try_exists(&path).await? {
                    let spool = self.spool_dir();
                    let bytes = bytes.to_vec();
                    let tmp = tokio::task::spawn_blocking(move || write_synced(&spool, &bytes))
                        .await
                        .map_err(std::io::Error::other)??;
                    self.put_file(&tmp, &sha, 0).await?;
                }
            }
        }
        Ok(sha)
    }

    /// The stored bytes of `sha256`; `NotFound` when the store has no such content.
    pub async fn open(&self, sha256: &str) -> std::io::Result<ByteStream> {
        match &self.remote {
            Some(r) => {
                let got = r.store.get(&r.key(sha256)).await.map_err(to_io)?;
                Ok(got.into_stream().map(|c| c.map_err(to_io)).boxed())
            }
            None => {
                let file = tokio::fs::File::open(self.local_path(sha256)).await?;
                Ok(tokio_util::io::ReaderStream::new(file).boxed())
            }
        }
    }

    fn local_path(&self, sha256: &str) -> PathBuf {
        let (a, b) = shard(sha256);
        self.root.join(a).join(b)
    }

    async fn adopt_local(&self, spooled: &Path, sha256: &str) -> std::io::Result<()> {
        let dest = self.local_path(sha256);
        if tokio::fs::try_exists(&dest).await? {
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(spooled, &dest).await?;
        // The rename is durable only once its directory is synced.
        if let Some(parent) = dest.parent() {
            tokio::fs::File::open(parent).await?.sync_all().await?;
        }
        Ok(())
    }
}

/// Splits a content hash into a two-character directory and the rest, so no directory (or
/// key prefix) holds more than 1/256 of the files.
fn shard(sha256: &str) -> (&str, &str) {
    sha256.split_at(2.min(sha256.len()))
}

impl Remote {
    fn key(&self, sha256: &str) -> ObjectPath {
        let (a, b) = shard(sha256);
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{a}/{b}"))
        } else {
            ObjectPath::from(format!("{}/{a}/{b}", self.prefix))
        }
    }

    async fn exists(&self, sha256: &str) -> std::io::Result<bool> {
        match self.store.head(&self.key(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(to_io(e)),
        }
    }

    /// One PUT for small files; a multipart upload fed from the file for big ones, so at most
    /// one part is in memory.
    async fn upload_file(&self, path: &Path, sha256: &str, size: usize) -> std::io::Result<()> {
        if self.exists(sha256).await? {
            return Ok(());
        }
        let key = self.key(sha256);
        if size <= PART_BYTES {
            let bytes = tokio::fs::read(path).await?;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(to_io)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&key).await.map_err(to_io)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut file = tokio::fs::File::open(path).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(to_io(e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(to_io)?;
        Ok(())
    }
}

fn to_io(e: object_store::Error) -> std::io::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string())
        }
        e => std::io::Error::other(e),
    }
}

/// Writes bytes to a new synced file in `dir` and returns its path.
fn write_synced(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("mail-{}", uuid::Uuid::new_v4()));
    let mut f = std::fs::File::create(&path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        Config {
            storage_url: url.into(),
            ..Config::default()
        }
    }

    #[test]
    fn storage_urls_are_checked_at_start() {
        assert!(Blobs::from_config(&config("")).unwrap().remote.is_none());
        let err = |u: &str| Blobs::from_config(&config(u)).err().unwrap().to_string();
        assert!(err("ftp://files/x").contains("s3://bucket/prefix"));
        // A path would be silently ignored (attachments always live in the data dir), so say so.
        assert!(err("file:///srv/files").contains("s3://bucket/prefix"));
        assert!(err("local").contains("s3://bucket/prefix"));
        assert!(err("s3:///prefix").contains("names no bucket"));
        let mut bad = config("s3://bucket");
        bad.storage_options
            .insert("aws_colour".into(), "blue".into());
        assert!(
            Blobs::from_config(&bad)
                .err()
                .unwrap()
                .to_string()
                .contains("aws_colour")
        );
        let mut ok = config("s3://bucket/some/prefix/");
        ok.storage_options
            .insert("aws_region".into(), "eu-west-1".into());
        let blobs = Blobs::from_config(&ok).unwrap();
        let remote = blobs.remote.as_ref().unwrap();
        assert_eq!(remote.key("abcdef").as_ref(), "some/prefix/ab/cdef");
    }

    #[test]
    fn the_spool_sweep_removes_only_old_leftovers() {
        let dir = std::env::temp_dir().join(format!("spool-{}", uuid::Uuid::new_v4()));
        let blobs = Blobs::from_config(&Config {
            data_dir: dir.clone(),
            ..Config::default()
        })
        .unwrap();
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(blobs.sweep_spool(day).unwrap(), 0, "no spool yet");
        std::fs::create_dir_all(blobs.spool_dir()).unwrap();
        let old = blobs.spool_dir().join("upload-old");
        let fresh = blobs.spool_dir().join("upload-fresh");
        std::fs::write(&old, b"cut off").unwrap();
        std::fs::write(&fresh, b"in flight").unwrap();
        let two_days_ago = std::time::SystemTime::now() - 2 * day;
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        assert_eq!(blobs.sweep_spool(day).unwrap(), 1);
        assert!(!old.exists() && fresh.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
