//! Files on bulk-seeded tickets: a few sample files stored once, attached to a share of the
//! tickets' opening posts. Many rows point at the same stored bytes, as they do when customers
//! send the same screenshot or log twice (storage is content-addressed).

use rand::Rng;
use rand::rngs::SmallRng;
use sea_orm::Value;

use crate::context::Ctx;

/// Columns of an `attachments` row as the bulk seed writes it (opening post: no message).
pub(super) const FILE_COLS: &[&str] = &[
    "ticket_id",
    "filename",
    "content_type",
    "size",
    "sha256",
    "created_at",
];

/// A stored sample file that seeded rows point at.
pub(super) struct SampleFile {
    filename: &'static str,
    content_type: String,
    size: i64,
    sha256: String,
}

/// Stores the sample files (a screenshot, a log, an export) in the blob store, typed by
/// sniffing as uploads are.
pub(super) async fn store_samples(ctx: &Ctx) -> anyhow::Result<Vec<SampleFile>> {
    let log: String = (0..40)
        .map(|i| {
            format!(
                "2026-03-{:02}T09:{:02}:17Z ERROR sync worker {}: upstream timed out after 30s\n",
                i % 28 + 1,
                i % 60,
                i % 4
            )
        })
        .collect();
    let csv: String = std::iter::once("invoice,date,amount,status\n".to_string())
        .chain(
            (1..=25).map(|i| format!("INV-{:05},2026-02-{:02},{}.00,open\n", 1000 + i, i, 40 * i)),
        )
        .collect();
    let samples: [(&'static str, &[u8]); 3] = [
        ("screenshot.png", include_bytes!("screenshot.png")),
        ("error-log.txt", log.as_bytes()),
        ("export.csv", csv.as_bytes()),
    ];
    let mut out = Vec::with_capacity(samples.len());
    for (filename, bytes) in samples {
        let content_type = crate::attachments::sniff(bytes, filename)
            .map_err(|r| anyhow::anyhow!("sample file {filename} refused: {r:?}"))?;
        let sha256 = crate::attachments::store_bytes(&ctx.blobs, bytes).await?;
        out.push(SampleFile {
            filename,
            content_type,
            size: bytes.len() as i64,
            sha256,
        });
    }
    Ok(out)
}

/// The file rows of ticket `id` created at `created`: none on nine tickets in ten, one or two
/// of the samples on the rest.
pub(super) fn pick_files(
    rng: &mut SmallRng,
    samples: &[SampleFile],
    id: i64,
    created: i64,
) -> Vec<Vec<Value>> {
    let count = match rng.random_range(0..100) {
        0..90 => 0,
        90..97 => 1,
        _ => 2,
    }
    .min(samples.len());
    let first = rng.random_range(0..samples.len().max(1));
    (0..count)
        .map(|k| {
            let f = &samples[(first + k) % samples.len()];
            vec![
                Value::from(id),
                Value::from(f.filename),
                Value::from(f.content_type.clone()),
                Value::from(f.size),
                Value::from(f.sha256.clone()),
                Value::from(created),
            ]
        })
        .collect()
}
