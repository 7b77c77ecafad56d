//! Generated text formatted with one allocation per string.
//!
//! A model of 100,000 datasets formats millions of statements, names and lists. `format!`
//! starts each string from a small guess and doubles it as it grows — several reallocations
//! and copies per statement, most of generation's time. [`format`] writes into a buffer
//! the thread keeps instead, and copies the text once into a string of exactly its length.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

/// A buffer above this size is given back after use rather than kept for the next string.
const KEEP: usize = 1 << 20;

thread_local! {
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `args` as a new string of exactly its length: what `format!` gives, in one allocation.
pub(crate) fn format(args: fmt::Arguments<'_>) -> String {
    if let Some(text) = args.as_str() {
        return text.to_owned();
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            buffer
                .write_fmt(args)
                .expect("formatting into a string does not fail");
            let text = String::from(buffer.as_str());
            if buffer.capacity() > KEEP {
                *buffer = String::new();
            }
            text
        }
        // A value whose own formatting formats text: the buffer is in use further up.
        Err(_) => fmt::format(args),
    })
}

/// `format!`, in one allocation ([`format`]).
macro_rules! text {
    ($($arg:tt)*) => {
        $crate::text::format(format_args!($($arg)*))
    };
}
pub(crate) use text;

#[cfg(test)]
mod tests {
    use super::*;

    struct Nested;

    impl fmt::Display for Nested {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&text!("<{}>", 42))
        }
    }

    #[test]
    fn text_is_what_format_gives() {
        let name = "people";
        assert_eq!(text!("plain"), "plain");
        assert_eq!(text!("-- {name}.\n{}", 7), format!("-- {name}.\n{}", 7));
        // Formatting inside formatting.
        assert_eq!(text!("[{}]", Nested), "[<42>]");
        let long = "x".repeat(KEEP + 1);
        assert_eq!(text!("{long}!").len(), KEEP + 2);
        assert_eq!(text!("{name}"), "people");
    }
}
