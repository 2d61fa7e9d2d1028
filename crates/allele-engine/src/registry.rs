//! The active bundle of each workspace, held as an `Arc` and swapped whole.
//!
//! A decision takes the `Arc` once, at its start, and keeps it to the end:
//! a swap never changes the bundle under a decision in flight, and the old
//! bundle is freed when its last decision finishes. The lock is held only
//! to clone or replace the pointer (never while compiling or deciding), so
//! a swap costs readers nanoseconds, whatever the bundle's size.
//!
//! The server keeps one [`Registry`] for every workspace; an edge or a
//! browser can keep one for its single workspace.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::{Bundle, BundleError, SignedBundle, verify};

/// A verified bundle ready for decisions, with the signed form it came from.
#[derive(Debug)]
pub struct ActiveBundle {
    pub version: u64,
    pub bundle: Bundle,
    pub signed: SignedBundle,
}

impl ActiveBundle {
    /// Verifies `signed` against `public_key` and loads it: a tampered or
    /// unsigned bundle is an error and never becomes active.
    pub fn verified(signed: SignedBundle, public_key: &[u8; 32]) -> Result<Self, BundleError> {
        let bundle = verify(&signed, public_key)?;
        Ok(ActiveBundle {
            version: signed.version,
            bundle,
            signed,
        })
    }
}

type VersionKey = (String, u64);

#[derive(Debug, Default)]
pub struct Registry {
    active: RwLock<HashMap<String, Arc<ActiveBundle>>>,
    versions: RwLock<HashMap<VersionKey, Arc<ActiveBundle>>>,
}

impl Registry {
    /// The workspace's active bundle, if one was installed.
    pub fn active(&self, workspace: &str) -> Option<Arc<ActiveBundle>> {
        // A panic elsewhere while holding the lock leaves the map intact (a
        // pointer insert cannot half-happen), so a poisoned lock is still
        // safe to read.
        let map = self.active.read().unwrap_or_else(PoisonError::into_inner);
        map.get(workspace).cloned()
    }

    /// Makes `bundle` the workspace's active bundle and answers the one it
    /// replaced. Decisions that already hold the old one finish on it.
    pub fn install(&self, workspace: &str, bundle: Arc<ActiveBundle>) -> Option<Arc<ActiveBundle>> {
        let mut map = self.active.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(workspace.to_string(), bundle)
    }

    /// A verified version kept for challengers and rollbacks.
    pub fn version(&self, workspace: &str, version: u64) -> Option<Arc<ActiveBundle>> {
        let map = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&(workspace.to_string(), version)).cloned()
    }

    /// Keeps a verified version for [`Registry::version`].
    pub fn remember(&self, workspace: &str, bundle: Arc<ActiveBundle>) {
        let mut map = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert((workspace.to_string(), bundle.version), bundle);
    }
}
