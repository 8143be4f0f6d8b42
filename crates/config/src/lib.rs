//! # config: main.cf and master.cf
//!
//! Reads Postern's two configuration files from one directory (`-c DIR`,
//! default `/etc/postern`) and gives every program the same typed,
//! expanded view of them. The syntax is Postfix's, so an admin's habits
//! carry over. [`Config::load`] is the entry point.
//!
//! # main.cf
//!
//! `name = value` lines. White space around `=` is optional and the value
//! is trimmed. A line whose first non-white character is `#` is a comment;
//! blank lines are ignored; a line that starts with white space continues
//! the previous one (joined with one space). A later definition of a name
//! replaces an earlier one.
//!
//! Values may refer to other parameters: `$name`, `${name}`, `$(name)`;
//! `${name?text}` is `text` when `name` is non-empty, `${name:text}` is
//! `text` when it is empty; `$$` is a literal `$`. Expansion uses the
//! effective values (main.cf, else the built-in default), so
//! `myorigin = $mydomain` follows a changed `mydomain`.
//!
//! Every known parameter has a kind (string, absolute path, boolean,
//! number, size with `k`/`m`/`g`, time with units `s m h d w` and a
//! per-parameter default unit, list, list of networks) and a default; see
//! [`parameters`] and [`Params`]. A parameter Postern does not know is
//! allowed when some `$name` refers to it (a helper variable), otherwise it
//! draws a warning, since it is probably a typo. `config_directory` is
//! always the directory given to [`Config::load`].
//!
//! # master.cf
//!
//! One row per service: service, type (`inet`, `unix`, `pass`), private,
//! unpriv, chroot, wakeup, maxproc, command and arguments; `-` means the
//! default; continuation and comment lines as in main.cf. An `inet`
//! service is `port`, `host:port` or `[ipv6]:port` (port may be `smtp`,
//! `submission`, `submissions`/`smtps`, `pop3`, `pop3s`, `imap`, `imaps`).
//! `-o name=value` arguments (also `-o { name = value with spaces }`) set a
//! parameter for that service alone; see [`Config::params_for`]. Other
//! arguments have `$name` expanded. Postern never chroots: `y` in that
//! column is ignored with a warning. `maxproc -` means one process, because
//! a Postern daemon serves many clients.
//!
//! # Errors
//!
//! Every error names the file and line (and the parameter, for a bad
//! value): `/etc/postern/main.cf:12: message_size_limit: invalid size
//! "10x"`. Errors: a syntax error, a bad value, an expansion loop
//! (`a = $b`, `b = $a`), an unsupported service type, `maxproc 0`, a
//! duplicate service, an unreadable file. Warnings ([`Warning`], same
//! `file:line:` form) do not stop the program: an unknown parameter, an
//! undefined `$name` (it expands to nothing), an ignored setting.
//!
//! # Security
//!
//! The inputs are admin-controlled files, trusted like the rest of the
//! configuration. Parsing still never panics, and expansion is bounded in
//! depth and in the length of the values it produces, so a mistake cannot
//! exhaust the stack or memory.

mod cidr;
mod error;
mod expand;
#[doc(hidden)]
pub mod fuzz_api;
mod load;
mod main_cf;
mod master_cf;
mod params;
mod text;
pub mod value;

pub use cidr::{Cidr, ParseCidrError};
pub use error::{Error, Warning};
pub use load::Config;
pub use master_cf::{InetAddr, ServiceEntry, ServiceKey, ServiceKind, ServiceType};
pub use params::{
    ComputedDefault, DEFAULT_CONFIG_DIRECTORY, ParamInfo, ParamKind, Params, default_value,
    parameters,
};
pub use value::TimeUnit;

/// The name of the parameter file in the configuration directory.
pub const MAIN_CF: &str = "main.cf";

/// The name of the service file in the configuration directory.
pub const MASTER_CF: &str = "master.cf";
