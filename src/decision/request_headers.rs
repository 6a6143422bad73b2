//! The request's headers, as the decision reads them.

use std::borrow::Cow;

/// Request headers as the host sees them (pseudo-headers included: `:path`, `:method`,
/// `:authority`). Only the ones the decision needs are asked for.
pub trait RequestHeaders {
    fn header(&self, name: &str) -> Option<String>;

    /// The raw value, borrowed where the host can: a cached token is recognised without a
    /// copy and without checking that it is text.
    fn header_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.header(name).map(|text| Cow::Owned(text.into_bytes()))
    }

    /// Calls `each` with every header's name; false when the host cannot list them (then an
    /// allowed request that would need the list is refused: see [`Allow::apply`]).
    fn each_name(&self, _each: &mut dyn FnMut(&[u8])) -> bool {
        false
    }
}

/// A request built as a list of (name, value) pairs, the first of a name winning: what the
/// CLI, the tests and the fuzz targets decide on. Names are compared as given (lower case, as
/// Envoy hands them over).
impl<N: AsRef<str>, V: AsRef<str>> RequestHeaders for Vec<(N, V)> {
    fn header(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_owned())
    }

    fn each_name(&self, each: &mut dyn FnMut(&[u8])) -> bool {
        self.iter()
            .for_each(|(name, _)| each(name.as_ref().as_bytes()));
        true
    }
}
