//! The `--journal` value: a file, `:memory:` or a PostgreSQL URL, parsed without ever echoing it.

use crate::journal::JournalLocation;

/// Parses `--journal` / `VEO_JOURNAL` without repeating the value in its error: a PostgreSQL
/// URL carries a password, which clap's own error ("invalid value '…'") would print.
#[derive(Clone, Copy, Debug)]
pub(super) struct JournalParser;

impl clap::builder::TypedValueParser for JournalParser {
    type Value = JournalLocation;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<JournalLocation, clap::Error> {
        let refused = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--journal (VEO_JOURNAL): {message}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refused("the value is not valid UTF-8".into()))?;
        JournalLocation::parse(text).map_err(refused)
    }
}
