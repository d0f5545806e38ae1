//! The data directory and its small files: opening it, reading and privately writing a file,
//! key files created on first use, and the files of the parts that own no module of files
//! (the embedded store, the trigger-token key).
//!
//! A first start creates what is missing, so a fresh install needs no configuration. Files
//! that belong to API clients (the root client, the client key, `hookd client`'s clients) are
//! named and handled by the `clients` module, which builds on this one; this module knows
//! nothing of clients.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crypto::{parse_key, TokenCipher, KEY_LEN};

const KEY_FILE: &str = "trigger-token.key";
const STORE_FILE: &str = "hookd.sqlite3";

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file has unexpected contents.
    #[error("{0} is damaged; remove it to have it recreated")]
    Damaged(PathBuf),
}

/// An opened data directory.
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens `path`, creating it if needed.
    ///
    /// # Errors
    /// [`DataDirError::Io`] when it cannot be created.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        fs::create_dir_all(path).map_err(io_error(path))?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// The path of the file `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Where the embedded store lives.
    pub fn store_path(&self) -> PathBuf {
        self.file(STORE_FILE)
    }

    /// The text of the file at `path`; `None` when it does not exist yet.
    ///
    /// # Errors
    /// [`DataDirError::Io`] when it exists but cannot be read.
    pub fn read(&self, path: &Path) -> Result<Option<String>, DataDirError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(path)(e)),
        }
    }

    /// The trigger-token key, created on first use.
    ///
    /// # Errors
    /// [`DataDirError`] when the key file cannot be read, written or parsed.
    pub fn token_key(&self) -> Result<[u8; KEY_LEN], DataDirError> {
        self.key(KEY_FILE)
    }

    /// The key in the file `name`: 64 hex digits, random and written on first use.
    ///
    /// # Errors
    /// [`DataDirError`] when the key file cannot be read, written or parsed.
    pub fn key(&self, name: &str) -> Result<[u8; KEY_LEN], DataDirError> {
        let path = self.file(name);
        match self.read(&path)? {
            Some(text) => parse_key(&text).map_err(|_| DataDirError::Damaged(path)),
            None => {
                let key = TokenCipher::generate_key();
                write_private(&path, &hex::encode(key))?;
                Ok(key)
            }
        }
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a secret-bearing file readable by its owner only, replacing it atomically.
///
/// # Errors
/// [`DataDirError::Io`] when the file cannot be written or moved into place.
pub fn write_private(path: &Path, contents: &str) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_error(&tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&tmp))?;
    fs::rename(&tmp, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let first = data.token_key().unwrap();
        assert_eq!(data.token_key().unwrap(), first);
        assert_ne!(data.key("other.key").unwrap(), first);
    }
}
