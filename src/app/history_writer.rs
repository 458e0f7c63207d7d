//! The history writer: the engine's records, in order, one transaction per batch (or several
//! that queued up, together), each batch in the database exactly once.
//!
//! The database may go away at any moment (a PostgreSQL restart or failover, a full disk, a
//! busy SQLite file). A batch that fails for such a reason is retried until it is in, with
//! backoff, and batches arriving meanwhile are held here (up to [`HELD_MAX_RECORDS`]), so the
//! engine keeps routing calls through an outage instead of waiting on the channel. Whether a
//! batch whose COMMIT went unanswered is in is read back from the batch id it wrote
//! (`Store::write_batch`), so it is neither lost nor written twice. A batch the database
//! refuses for what it holds (a constraint) is given up after a few tries, as before: retrying
//! it would stop the history for good.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::engine::Record;
use crate::metrics::Metrics;
use crate::store::Store;

/// Batches that queued up while the writer was busy are written together up to this many
/// records.
const MAX_RECORDS_PER_TRANSACTION: usize = 2_000;

/// Records held while the database is away; past this the engine waits on the channel.
const HELD_MAX_RECORDS: usize = 500_000;

/// Tries for a batch the database refuses for what it holds, and for any batch once the
/// controller is stopping (nothing more will arrive; waiting forever would hang the stop).
const GIVE_UP_AFTER: u32 = 8;

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

/// The engine's side of the channel and what the writer holds from it.
struct Inbox {
    batches: mpsc::Receiver<Vec<Record>>,
    held: VecDeque<Vec<Record>>,
    held_records: usize,
    open: bool,
}

impl Inbox {
    fn hold(&mut self, batch: Vec<Record>) {
        self.held_records += batch.len();
        self.held.push_back(batch);
    }

    /// Takes what has queued up, while there is room.
    fn take_queued(&mut self) {
        while self.open && self.held_records < HELD_MAX_RECORDS {
            match self.batches.try_recv() {
                Ok(batch) => self.hold(batch),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.open = false,
            }
        }
    }

    /// Waits for the next batch when none is held; false once the engine is gone.
    async fn wait(&mut self) -> bool {
        if self.held.is_empty() && self.open {
            match self.batches.recv().await {
                Some(batch) => self.hold(batch),
                None => self.open = false,
            }
        }
        !self.held.is_empty()
    }

    /// Whole batches, oldest first, up to the transaction's size (at least one).
    fn next_transaction(&mut self) -> Vec<Record> {
        let mut records = Vec::new();
        while let Some(front) = self.held.front() {
            if !records.is_empty() && records.len() + front.len() > MAX_RECORDS_PER_TRANSACTION {
                break;
            }
            let Some(batch) = self.held.pop_front() else {
                break;
            };
            self.held_records -= batch.len();
            records.extend(batch);
        }
        records
    }

    /// Sleeps `delay`, holding what arrives meanwhile.
    async fn pause(&mut self, delay: Duration) {
        let until = tokio::time::Instant::now() + delay;
        loop {
            let room = self.open && self.held_records < HELD_MAX_RECORDS;
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                batch = self.batches.recv(), if room => match batch {
                    Some(batch) => self.hold(batch),
                    None => self.open = false,
                },
            }
        }
    }
}

/// Starts the writer on a thread of its own, with a runtime of its own, and gives what
/// resolves when it has written everything the engine sent and ended.
///
/// Not on the controller's runtime: a history batch is dozens of statements, each a round trip
/// to the database, and every reply would wait for a runtime worker busy decoding the
/// switches' events. Under load that wait, not the database, set how fast the history could
/// be written, and it fell behind the calls (docs/performance.md).
pub fn spawn(
    store: Store,
    batches: mpsc::Receiver<Vec<Record>>,
    metrics: Arc<Metrics>,
    outbox_written: watch::Sender<u64>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, ended) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("history-writer".into())
        .spawn(move || {
            runtime.block_on(write_history(store, batches, metrics, outbox_written));
            let _ = done.send(());
        })?;
    Ok(ended)
}

pub async fn write_history(
    store: Store,
    batches: mpsc::Receiver<Vec<Record>>,
    metrics: Arc<Metrics>,
    outbox_written: watch::Sender<u64>,
) {
    let mut inbox = Inbox {
        batches,
        held: VecDeque::new(),
        held_records: 0,
        open: true,
    };
    while inbox.wait().await {
        inbox.take_queued();
        let records = inbox.next_transaction();
        let written = write_once(&store, &records, &mut inbox, &metrics).await;
        metrics
            .history_records_done
            .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if written {
            Metrics::bump(&metrics.store_batches);
            // The batch may have put events and webhook deliveries in the outbox.
            outbox_written.send_modify(|batches| *batches = batches.wrapping_add(1));
        }
    }
}

/// Writes one transaction's records until they are in; false if they were given up.
async fn write_once(
    store: &Store,
    records: &[Record],
    inbox: &mut Inbox,
    metrics: &Metrics,
) -> bool {
    let batch = uuid::Uuid::new_v4().simple().to_string();
    let mut delay = FIRST_RETRY;
    let mut attempts: u32 = 0;
    loop {
        let error = match store.write_batch(records, &batch).await {
            Ok(()) => {
                if attempts > 0 {
                    info!(
                        attempts,
                        records = records.len(),
                        "history batch written after retries"
                    );
                }
                return true;
            }
            Err(e) => e,
        };
        attempts += 1;
        Metrics::bump(&metrics.store_errors);
        let transient = error.is_transient();
        if (!transient || !inbox.open) && attempts >= GIVE_UP_AFTER {
            error!(error = %error, records = records.len(), "history batch abandoned after retries");
            return false;
        }
        if attempts == 1 || attempts % 10 == 0 {
            warn!(error = %error, attempts, transient, held = inbox.held_records, "history write failed; retrying");
        }
        inbox.pause(delay).await;
        delay = (delay * 2).min(LONGEST_RETRY);
        // The connection may have gone after the database committed: then the batch is in.
        if transient && committed(store, &batch).await {
            info!(
                attempts,
                "history batch was committed before its connection was lost"
            );
            return true;
        }
    }
}

async fn committed(store: &Store, batch: &str) -> bool {
    store
        .last_history_batch()
        .await
        .is_ok_and(|last| last.as_deref() == Some(batch))
}
