//! fuzz_api - entry points for the fuzz targets in `fuzz/`; not for other use.
//!
//! Thin wrappers around parsers that are private to this crate, so that
//! `cargo fuzz` can reach them with bytes. Nothing here is a stable API: it
//! changes whenever the parsers do.

use std::path::Path;

use crate::error::{Error, Warning};
use crate::master_cf::{self, ServiceEntry};
use crate::text;

/// parse_master_cf - master.cf bytes read as the loader reads them: decoded
/// as UTF-8 (invalid UTF-8 is a syntax error at its line), then parsed into
/// rows, with the warnings they draw. Arguments stay unexpanded, as before
/// main.cf is known.
pub fn parse_master_cf(
    file: &Path,
    bytes: &[u8],
) -> Result<(Vec<ServiceEntry>, Vec<Warning>), Error> {
    let text = text::decode(file, bytes.to_vec())?;
    let mut warnings = Vec::new();
    let services = master_cf::parse(file, &text, &mut warnings)?;
    Ok((services, warnings))
}

/// is_valid_name - whether `name` is a syntactically valid parameter name
/// (what a `-o name=value` override must use).
pub fn is_valid_name(name: &str) -> bool {
    text::is_valid_name(name)
}
