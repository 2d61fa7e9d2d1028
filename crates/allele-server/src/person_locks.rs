//! Per-person decision locks: a decision holds its person's lock from
//! reading the contact history until the decision is logged, so two
//! decisions for one person cannot both pass a cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// One lock per identity a decision request names, created on demand and
/// dropped with its last user: decisions for one person queue, decisions for
/// different people never wait on each other (a fixed set of stripes made
/// about one decision in ten wait behind an unrelated one at 32 in flight).
/// A person addressed by two different identifiers at the same instant is
/// not covered (the profile is resolved only after the lock is taken).
#[derive(Default)]
pub struct PersonLocks {
    held: Mutex<HashMap<PersonKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// Workspace and the identifier the request named.
type PersonKey = (String, String);

/// Holds one person's decision lock; releases it (and forgets it when no one
/// else waits) on drop.
pub struct PersonGuard<'a> {
    locks: &'a PersonLocks,
    key: PersonKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl PersonLocks {
    pub async fn lock(
        &self,
        workspace: &str,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
    ) -> PersonGuard<'_> {
        let key = (
            workspace.to_string(),
            user_id.or(anonymous_id).unwrap_or_default().to_string(),
        );
        let mutex = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(held.entry(key.clone()).or_default())
        };
        PersonGuard {
            locks: self,
            key,
            guard: Some(mutex.lock_owned().await),
        }
    }

    /// People with a decision in flight or waiting (for tests and metrics).
    pub fn len(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PersonGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Under the map's lock no one can take a new handle, so a count of
        // one (the map's own) means nobody holds or waits for this person.
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held
            .get(&self.key)
            .is_some_and(|mutex| Arc::strong_count(mutex) == 1)
        {
            held.remove(&self.key);
        }
        // A request dropped while waiting leaves its entry behind; sweep
        // such entries once there are more than in-flight requests explain.
        if held.len() > STALE_LOCK_SWEEP_AT {
            held.retain(|_, mutex| Arc::strong_count(mutex) > 1);
        }
    }
}

const STALE_LOCK_SWEEP_AT: usize = 4_096;

#[cfg(test)]
mod tests {
    use super::PersonLocks;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn one_person_queues_and_others_pass() {
        let locks = Arc::new(PersonLocks::default());
        let held = locks.lock("ws", Some("ann"), None).await;
        // Another person is not held up by Ann's decision.
        let bob = tokio::time::timeout(Duration::from_secs(1), locks.lock("ws", Some("bob"), None))
            .await
            .expect("bob is not blocked");
        drop(bob);
        // Ann again (by the same id) waits until the first guard goes.
        let waiter = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move {
                let _again = locks.lock("ws", Some("ann"), None).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "a second decision for ann ran concurrently"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("released")
            .expect("joined");
        // Nobody holds or waits: the map forgot everyone.
        assert!(locks.is_empty(), "{} entries left", locks.len());
    }

    #[tokio::test]
    async fn same_id_in_another_workspace_is_another_person() {
        let locks = PersonLocks::default();
        let _one = locks.lock("ws1", None, Some("anon-1")).await;
        let two = tokio::time::timeout(
            Duration::from_secs(1),
            locks.lock("ws2", None, Some("anon-1")),
        )
        .await;
        assert!(two.is_ok());
    }
}
