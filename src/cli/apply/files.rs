//! Reading hook definitions from files: YAML or JSON, one hook or a list per file, directories
//! walked recursively in name order, so the same tree always gives the same list.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why the files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is neither valid JSON nor valid YAML for its extension.
    #[error("{path} is not valid {format}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file holds something other than a hook (an object) or a list of them.
    #[error("{0} holds neither a hook definition (an object) nor a list of them")]
    NotHooks(PathBuf),
}

/// Every hook definition under `paths`, in order: files as given, directories' files (`.json`,
/// `.yaml`, `.yml`) recursively by name.
///
/// # Errors
/// The first file that cannot be read or parsed.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Value>, FilesError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, true, &mut files)?;
    }
    let mut hooks = Vec::new();
    for file in files {
        match parse(&file)? {
            Value::Array(items) if items.iter().all(Value::is_object) => hooks.extend(items),
            hook @ Value::Object(_) => hooks.push(hook),
            _ => return Err(FilesError::NotHooks(file)),
        }
    }
    Ok(hooks)
}

fn collect(path: &Path, given: bool, files: &mut Vec<PathBuf>) -> Result<(), FilesError> {
    let read = |source| FilesError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        // A file named on the command line is read whatever its name; inside a directory only
        // definition files are, so READMEs and the like can sit next to them.
        if given || format(path).is_some() {
            files.push(path.to_path_buf());
        }
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .map_err(read)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    entries.sort();
    for entry in entries {
        collect(&entry, false, files)?;
    }
    Ok(())
}

/// `JSON` or `YAML` by extension; `None` for other files.
fn format(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "json" => Some("JSON"),
        "yaml" | "yml" => Some("YAML"),
        _ => None,
    }
}

fn parse(path: &Path) -> Result<Value, FilesError> {
    let text = std::fs::read_to_string(path).map_err(|source| FilesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // YAML is a superset of JSON, so a file of another name is read as YAML.
    let format = format(path).unwrap_or("YAML");
    let parsed: Result<Value, Box<dyn std::error::Error + Send + Sync>> = match format {
        "JSON" => serde_json::from_str(&text).map_err(Into::into),
        _ => serde_norway::from_str(&text).map_err(Into::into),
    };
    parsed.map_err(|source| FilesError::Parse {
        path: path.to_path_buf(),
        format,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_and_directories_give_hooks_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("b-team");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(dir.path().join("a.json"), r#"{"hookId": "a"}"#).unwrap();
        std::fs::write(nested.join("list.yaml"), "- hookId: b\n- hookId: c\n").unwrap();
        std::fs::write(nested.join("README.md"), "not a hook").unwrap();

        let hooks = load(&[dir.path().to_path_buf()]).unwrap();

        assert_eq!(
            hooks,
            [
                json!({"hookId": "a"}),
                json!({"hookId": "b"}),
                json!({"hookId": "c"})
            ]
        );
    }

    #[test]
    fn a_file_of_something_else_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yml");
        std::fs::write(&path, "just a string").unwrap();
        let err = load(&[path]).unwrap_err();
        assert!(matches!(err, FilesError::NotHooks(_)), "{err:?}");
    }
}
