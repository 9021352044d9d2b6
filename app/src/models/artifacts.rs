//! Run and model artifacts, under `mlflow-artifacts:/` URIs: a directory tree below the data
//! directory (`<data>/artifacts/<experiment>/<run>/artifacts/…` and
//! `<experiment>/models/<model>/artifacts/…`), written and read as streams so that memory
//! stays flat whatever a file's size.
//!
//! An upload goes to `<data>/artifacts/.incoming/` first and is renamed into place once
//! complete, so a listing or a download never sees half a file. The first path segment is
//! the experiment id, whose namespace decides who may read and write.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use futures::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::error::AppError;

/// Where artifacts live and how large one file may be (`GANTRY_ARTIFACT_MAX_BYTES`).
#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
    pub max_bytes: u64,
}

/// A checked artifact path: relative, no `..`, at least `<experiment>/<something>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath {
    pub experiment: i64,
    relative: PathBuf,
}

impl ArtifactPath {
    pub fn parse(path: &str) -> Result<ArtifactPath, AppError> {
        let bad = |reason: &str| AppError::invalid("path", reason.to_string());
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() || trimmed.starts_with('/') || trimmed.contains('\\') {
            return Err(bad(
                "must be a relative path such as 1/<run id>/artifacts/model",
            ));
        }
        let relative = PathBuf::from(trimmed);
        // Segment by segment: `Path::components` would quietly drop `.` and empty ones.
        let segments_ok = trimmed
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'));
        if !segments_ok
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad("may not contain '..', '.' or empty segments"));
        }
        let experiment = trimmed
            .split('/')
            .next()
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| bad("must start with an experiment id"))?;
        Ok(ArtifactPath {
            experiment,
            relative,
        })
    }

    /// Whether this is a path inside `prefix` (an artifact URI's path).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.relative.starts_with(prefix)
    }
}

#[derive(Debug, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

impl Artifacts {
    pub fn new(data_dir: &Path, max_bytes: u64) -> Artifacts {
        Artifacts {
            root: data_dir.join("artifacts"),
            max_bytes,
        }
    }

    /// Streams `body` into `path`, replacing a file there; refuses it past `max_bytes`.
    pub async fn put(&self, path: &ArtifactPath, body: Body) -> Result<u64, AppError> {
        let target = self.root.join(&path.relative);
        let incoming = self.root.join(".incoming");
        let io = |what: &'static str| move |e: std::io::Error| AppError::internal(what, e);
        tokio::fs::create_dir_all(&incoming)
            .await
            .map_err(io("preparing the artifact store"))?;
        let temporary = incoming.join(uuid::Uuid::new_v4().simple().to_string());
        let written = self.write(&temporary, body).await;
        let written = match written {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temporary).await;
                return Err(e);
            }
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                AppError::invalid("path", format!("cannot be a file below a file: {e}"))
            })?;
        }
        if let Err(e) = tokio::fs::rename(&temporary, &target).await {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(AppError::invalid(
                "path",
                format!("cannot be written (is it a directory?): {e}"),
            ));
        }
        Ok(written)
    }

    async fn write(&self, temporary: &Path, body: Body) -> Result<u64, AppError> {
        let mut file = tokio::fs::File::create(temporary)
            .await
            .map_err(|e| AppError::internal("storing an artifact", e))?;
        let mut stream = body.into_data_stream();
        let mut written: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::invalid("body", format!("the upload broke off or is too large: {e}"))
            })?;
            written += chunk.len() as u64;
            if written > self.max_bytes {
                return Err(AppError::invalid(
                    "body",
                    format!(
                        "an artifact may be at most {} bytes (GANTRY_ARTIFACT_MAX_BYTES)",
                        self.max_bytes
                    ),
                ));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| AppError::internal("storing an artifact", e))?;
        }
        file.flush()
            .await
            .map_err(|e| AppError::internal("storing an artifact", e))?;
        file.sync_all()
            .await
            .map_err(|e| AppError::internal("storing an artifact", e))?;
        Ok(written)
    }

    /// The file at `path` as a stream of 64 KiB chunks, with its size.
    pub async fn get(&self, path: &ArtifactPath) -> Result<(u64, Body), AppError> {
        let target = self.root.join(&path.relative);
        let not_found = || AppError::not_found(format!("artifact {}", path.relative.display()));
        let file = tokio::fs::File::open(&target)
            .await
            .map_err(|_| not_found())?;
        let meta = file.metadata().await.map_err(|_| not_found())?;
        if !meta.is_file() {
            return Err(not_found());
        }
        let stream = futures::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut buffer = vec![0u8; 64 * 1024];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((
                        Ok::<_, std::io::Error>(axum::body::Bytes::from(buffer)),
                        file,
                    ))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        Ok((meta.len(), Body::from_stream(stream)))
    }

    /// The entries of the directory at `path`; `None` when there is none (the client wants
    /// `{}` then, not a 404).
    pub async fn list(&self, path: &ArtifactPath) -> Result<Option<Vec<FileInfo>>, AppError> {
        let target = self.root.join(&path.relative);
        let mut entries = match tokio::fs::read_dir(&target).await {
            Ok(entries) => entries,
            Err(_) => return Ok(None),
        };
        let mut files = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| AppError::internal("listing artifacts", e))?
        {
            let meta = entry
                .metadata()
                .await
                .map_err(|e| AppError::internal("listing artifacts", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push(FileInfo {
                path: relative_to_root(&path.relative, &name).unwrap_or(name),
                is_dir: meta.is_dir(),
                file_size: meta.is_file().then_some(meta.len()),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Some(files))
    }
}

/// A listed entry's `path`: relative to the artifact root of what was listed, as MLflow's
/// server writes it (`model/MLmodel` when listing `…/artifacts/model`).
fn relative_to_root(listed: &Path, name: &str) -> Option<String> {
    let text = listed.to_string_lossy();
    let (_, inside) = text.split_once("/artifacts")?;
    let inside = inside.trim_start_matches('/');
    Some(if inside.is_empty() {
        name.to_string()
    } else {
        format!("{inside}/{name}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_relative_and_stay_inside() {
        let ok = ArtifactPath::parse("1/abc/artifacts/model/MLmodel").unwrap();
        assert_eq!(ok.experiment, 1);
        for bad in [
            "",
            "/etc/passwd",
            "1/../../etc/passwd",
            "1/./x",
            "1//x",
            "x/abc",
            "1\\..\\x",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listed_paths_are_relative_to_the_artifact_root() {
        let listed = Path::new("1/r/artifacts/model");
        assert_eq!(
            relative_to_root(listed, "MLmodel").unwrap(),
            "model/MLmodel"
        );
        assert_eq!(
            relative_to_root(Path::new("1/r/artifacts"), "model").unwrap(),
            "model"
        );
    }

    #[tokio::test]
    async fn an_upload_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = Artifacts::new(dir.path(), 10);
        let path = ArtifactPath::parse("1/r/artifacts/model/weights.bin").unwrap();
        let too_big = store.put(&path, Body::from(vec![0u8; 11])).await;
        assert!(too_big.is_err());
        let dir_path = ArtifactPath::parse("1/r/artifacts/model").unwrap();
        assert!(store.list(&dir_path).await.unwrap().is_none());
        assert_eq!(
            store.put(&path, Body::from(vec![7u8; 10])).await.unwrap(),
            10
        );
        let listed = store.list(&dir_path).await.unwrap().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, "model/weights.bin");
        assert_eq!(listed[0].file_size, Some(10));
        let incoming = std::fs::read_dir(dir.path().join("artifacts/.incoming")).unwrap();
        assert_eq!(incoming.count(), 0, "no temporary file is left behind");
    }
}
