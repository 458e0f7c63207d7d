//! The IVR flows being served: one checked set at a time, read from the config's `flows`
//! directory at start and on reload. A reload that fails any check changes nothing, so a broken
//! edit never replaces flows that work.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use thiserror::Error;

use super::engine_task::{EngineGone, EngineHandle};
use crate::config::ConfigError;
use crate::engine::QueueId;
use crate::flow::FlowSet;
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum ReloadError {
    #[error("no flows are configured (the config has no `flows` directory)")]
    NotConfigured,
    /// The files on disk do not pass the checks; the previous set keeps serving.
    #[error(transparent)]
    Invalid(ConfigError),
    #[error("cannot read the provisioned queues: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineGone),
    #[error("reading the flows stopped abnormally")]
    Interrupted,
}

/// The flows directory and the set read from it; shared by the API.
#[derive(Debug)]
pub struct Flows {
    dir: Option<PathBuf>,
    current: RwLock<Arc<FlowSet>>,
    /// Held through a reload, so two reloads cannot apply in the opposite order they read.
    reloading: tokio::sync::Mutex<()>,
}

impl Flows {
    /// Reads and checks the flows in `dir` (none when there is no directory); every `enqueue`
    /// must name one of `queues`.
    pub fn load(dir: Option<PathBuf>, queues: &HashSet<QueueId>) -> Result<Flows, ConfigError> {
        let set = match &dir {
            Some(dir) => read(dir, queues)?,
            None => FlowSet::default(),
        };
        Ok(Flows {
            dir,
            current: RwLock::new(Arc::new(set)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The set new callers run.
    pub fn current(&self) -> Arc<FlowSet> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Reads the directory again and, when every check passes (against the queues in the
    /// store), hands the new set to the engine and serves it. Returns the new set.
    pub async fn reload(
        &self,
        store: &Store,
        engine: &EngineHandle,
    ) -> Result<Arc<FlowSet>, ReloadError> {
        let dir = self.dir.clone().ok_or(ReloadError::NotConfigured)?;
        let _one_at_a_time = self.reloading.lock().await;
        let queues: HashSet<QueueId> = store
            .list_queues()
            .await?
            .into_iter()
            .map(|q| q.id)
            .collect();
        let set = tokio::task::spawn_blocking(move || read(&dir, &queues))
            .await
            .map_err(|_| ReloadError::Interrupted)?
            .map_err(ReloadError::Invalid)?;
        let set = Arc::new(set);
        engine.reload_flows(FlowSet::clone(&set)).await?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&set);
        store.changed(crate::store::Change::Flows).await;
        Ok(set)
    }

    /// A standby's reload after the leader's: reads the directory again and serves the set if
    /// it passes (the standby has no engine running to hand it to; it loads it at takeover).
    pub(super) async fn reread(&self, store: &Store) -> Result<(), ReloadError> {
        let dir = self.dir.clone().ok_or(ReloadError::NotConfigured)?;
        let _one_at_a_time = self.reloading.lock().await;
        let queues: HashSet<QueueId> = store
            .list_queues()
            .await?
            .into_iter()
            .map(|q| q.id)
            .collect();
        let set = tokio::task::spawn_blocking(move || read(&dir, &queues))
            .await
            .map_err(|_| ReloadError::Interrupted)?
            .map_err(ReloadError::Invalid)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
        Ok(())
    }
}

fn read(dir: &Path, queues: &HashSet<QueueId>) -> Result<FlowSet, ConfigError> {
    let set = FlowSet::load(dir)?;
    set.check_queues(queues)?;
    Ok(set)
}
