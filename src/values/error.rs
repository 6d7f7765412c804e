//! The typed error of the values room. Messages are short and lowercase and name the file,
//! line, variable or secret involved; no variant carries a value or an identity.

use std::path::{Path, PathBuf};

fn bad_lines(path: &Path, lines: &[(usize, String)]) -> String {
    lines
        .iter()
        .map(|(line, reason)| format!("{}:{line}: {reason}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// An identity file that cannot be read; `origin` says where its path came from.
    #[error("cannot read identity file {} (from {origin})", path.display())]
    ReadIdentity {
        path: PathBuf,
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// A write (or, later, a bounded read) that failed; the message names the path.
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    /// A bad identity; `origin` is a file path or an environment variable name.
    #[error("{origin}:{line}: {reason}")]
    Identity {
        origin: String,
        line: usize,
        reason: String,
    },
    /// Key text given where a file path belongs (e.g. the key's contents put into
    /// `CFSECRETS_AGE_KEY_FILE`). The text is not repeated: it is a private key.
    #[error(
        "{origin} holds an age identity, not a file path; put the key text in \
         CFSECRETS_AGE_KEY, or give the path of a file that holds it"
    )]
    KeyInsteadOfPath { origin: String },
    /// Other secret-shaped text (an API token) where a file path belongs: not repeated.
    #[error("{origin} looks like {noun}, not a file path; it is not shown or used")]
    SecretInsteadOfPath { origin: String, noun: &'static str },
    #[error("{origin}: contains no age identity (AGE-SECRET-KEY-1…)")]
    NoIdentity { origin: String },
    /// Every bad line of a recipients file, each named by its number and never quoted; the
    /// message holds one `path:line: reason` per line.
    #[error("{}", bad_lines(path, lines))]
    Recipients {
        path: PathBuf,
        /// (1-based line, reason), in file order.
        lines: Vec<(usize, String)>,
    },
    /// A recipients file that is not text.
    #[error(
        "{}: not a text file (it holds binary data); list one age1… public key per line",
        path.display()
    )]
    RecipientsNotText { path: PathBuf },
    #[error("{}: lists no recipient; add at least one age1… public key", path.display())]
    NoRecipients { path: PathBuf },
    #[error("invalid recipient {recipient:?}: {reason}")]
    RecipientArg { recipient: String, reason: String },
    /// A recipient argument that is not shown: private key material, or text that does not
    /// even start like a public key (it could be any secret pasted by mistake).
    #[error("recipient {position} (not shown): {reason}")]
    RecipientArgHidden { position: usize, reason: String },
    #[error("cannot decrypt {}: {reason}", path.display())]
    Decrypt { path: PathBuf, reason: String },
    #[error("cannot encrypt: {reason}")]
    Encrypt { reason: String },
    #[error("{}: the fingerprint key must be 64 hex characters (32 bytes)", path.display())]
    FingerprintKey { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    Index { path: PathBuf, reason: String },
    /// A sealed file that resolves outside the manifest's directory: never rewritten.
    #[error("{} is outside the manifest's directory; nothing was resealed", path.display())]
    Outside { path: PathBuf },
    /// Every sealed file `reseal` could not read or decrypt, each with its reason (the error
    /// without its path, [`ValuesError::reason`]); nothing was written.
    #[error("{}", unreadable(files))]
    CannotReseal { files: Vec<(PathBuf, String)> },
}

fn unreadable(files: &[(PathBuf, String)]) -> String {
    let lines: Vec<String> = files
        .iter()
        .map(|(path, reason)| format!("{}: {reason}", path.display()))
        .collect();
    format!("{}; nothing was resealed", lines.join("\n"))
}

impl ValuesError {
    /// The message without the path, for a caller that already names the file: `cannot
    /// read: …`, `cannot decrypt: …`, or the whole message for errors that name no file.
    pub fn reason(&self) -> String {
        match self {
            ValuesError::Fs(crate::fs::FsError::Read { source, .. }) => {
                format!("cannot read: {source}")
            }
            ValuesError::Fs(
                fs @ (crate::fs::FsError::Write { .. } | crate::fs::FsError::Exists { .. }),
            ) => format!("cannot write: {}", fs.reason()),
            ValuesError::Fs(fs) => format!("cannot read: {}", fs.reason()),
            ValuesError::Decrypt { reason, .. } => format!("cannot decrypt: {reason}"),
            ValuesError::FingerprintKey { .. } => {
                "it must hold 64 hex characters (32 bytes)".to_string()
            }
            other => other.to_string(),
        }
    }
}
