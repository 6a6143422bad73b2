//! Holding a request for keys: whether the host may, and what it waits for.

/// What the host may do instead of answering at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitPermission {
    /// Hold the request until the first key set arrives.
    pub for_first_keys: bool,
    /// Hold the request while the key set is fetched again for an unknown `kid`.
    pub for_refetch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// No key set yet; the first fetch is under way.
    FirstKeys,
    /// The token's `kid` is not in the key set: it may have just been rotated in.
    UnknownKid,
}
