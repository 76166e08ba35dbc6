//! `sentinel_result`: what every fallible function returns.

/// The outcome of a call. `SENTINEL_OK` is 0; every other value is an error, and where the
/// function has a `sentinel_error **error_out` its details are there. The numbers are stable.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sentinel_result {
    /// Success.
    SENTINEL_OK = 0,
    /// A pointer argument that must not be NULL was NULL.
    SENTINEL_NULL_PARAMETER = 1,
    /// Text that must be UTF-8 (an event, a message, a configuration, a name) was not.
    SENTINEL_INVALID_UTF8 = 2,
    /// An event or message that cannot be read: not JSON, not an object, a missing or
    /// mistyped field. Its fail-mode verdict is returned with the error.
    SENTINEL_EVENT_ERROR = 3,
    /// A rule pack that is not a rule pack, an invalid rule, a pack file that cannot be read.
    SENTINEL_RULE_ERROR = 4,
    /// A configuration that does not parse, or an invalid value in it.
    SENTINEL_CONFIG_ERROR = 5,
    /// The compiled rules exceed a size limit.
    SENTINEL_SIZE_LIMIT_ERROR = 6,
    /// The caller's buffer is too small; the size needed is reported.
    SENTINEL_BUFFER_TOO_SMALL = 7,
    /// An argument out of its range: an unknown enum value, a finding index past the end.
    SENTINEL_INVALID_ARGUMENT = 8,
    /// A tool pins file that cannot be read, parsed or written.
    SENTINEL_PINS_ERROR = 9,
    /// A bug in the library: a Rust panic, caught at the boundary.
    SENTINEL_PANIC = 10,
}

impl sentinel_result {
    /// The name of the code (`"SENTINEL_OK"`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            sentinel_result::SENTINEL_OK => "SENTINEL_OK",
            sentinel_result::SENTINEL_NULL_PARAMETER => "SENTINEL_NULL_PARAMETER",
            sentinel_result::SENTINEL_INVALID_UTF8 => "SENTINEL_INVALID_UTF8",
            sentinel_result::SENTINEL_EVENT_ERROR => "SENTINEL_EVENT_ERROR",
            sentinel_result::SENTINEL_RULE_ERROR => "SENTINEL_RULE_ERROR",
            sentinel_result::SENTINEL_CONFIG_ERROR => "SENTINEL_CONFIG_ERROR",
            sentinel_result::SENTINEL_SIZE_LIMIT_ERROR => "SENTINEL_SIZE_LIMIT_ERROR",
            sentinel_result::SENTINEL_BUFFER_TOO_SMALL => "SENTINEL_BUFFER_TOO_SMALL",
            sentinel_result::SENTINEL_INVALID_ARGUMENT => "SENTINEL_INVALID_ARGUMENT",
            sentinel_result::SENTINEL_PINS_ERROR => "SENTINEL_PINS_ERROR",
            sentinel_result::SENTINEL_PANIC => "SENTINEL_PANIC",
        }
    }
}
