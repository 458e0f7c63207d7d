//! An active/standby pair on one PostgreSQL: the election, the lease, fencing, and following
//! the other controller's changes.
//!
//! Every controller of a PostgreSQL database elects (a lone one wins at once). The standby
//! serves the API with provisioning loaded and polls the advisory lock; the leader renews a
//! lease in the database and extends its [`Fence`] after each renewal, so a leader that cannot
//! renew stops commanding switches before its lease ends, and so before anyone takes over. A
//! deposed leader exits (crash-only): the supervisor restarts it, as a standby.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::{prepare, AppError, LeaderPart, Running, StartOptions};
use crate::fence::Fence;
use crate::store::{
    Change, ChangeListener, LeaderConnection, LeadershipRow, PauseReasonRow, Store,
};

/// How often a standby tries the lock.
const POLL: Duration = Duration::from_millis(250);
/// How long a lock holder may sit on an expired lease before a standby evicts it. A new leader
/// claims the very next statement after taking the lock, so only a stuck one stays this long.
const EVICT_GRACE: Duration = Duration::from_secs(1);

/// `[ha]`: who this controller is to the other.
#[derive(Debug, Clone)]
pub struct PairOptions {
    /// This controller's name in the leadership row and the logs.
    pub name: String,
    /// The API URL the other controller names when it sends clients here.
    pub advertise_url: String,
    /// How long a leadership lasts without renewal.
    pub lease: Duration,
}

impl PairOptions {
    /// Renewals come this often: four chances within a lease.
    fn renew_every(&self) -> Duration {
        self.lease / 4
    }

    /// The fence closes this long before the database's lease ends (the time a command takes
    /// from the fence check to the socket, and the clocks' rate difference over a lease).
    fn margin(&self) -> Duration {
        self.lease / 6
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The only controller of its database (SQLite, the demo, the tests).
    Single,
    Leader,
    Standby,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Single | Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

/// What the API says about the leadership (`/healthz`, the standby's 503s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub role: Role,
    /// The current epoch as last seen; `None` for a single controller.
    pub epoch: Option<i64>,
    /// The leader's name and advertised URL, when one is known.
    pub leader: Option<(String, String)>,
}

impl View {
    /// A single controller: always the leader.
    pub fn single() -> watch::Receiver<View> {
        watch::channel(View {
            role: Role::Single,
            epoch: None,
            leader: None,
        })
        .1
    }

    fn standby(row: Option<&LeadershipRow>) -> View {
        View {
            role: Role::Standby,
            epoch: row.map(|r| r.epoch),
            leader: row
                .filter(|r| !r.lease_expired && !r.leader.is_empty())
                .map(|r| (r.leader.clone(), r.advertise_url.clone())),
        }
    }

    pub fn is_standby(&self) -> bool {
        self.role == Role::Standby
    }
}

/// What a controller keeps in memory that another controller's changes make stale.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) auth: Arc<crate::api::Auth>,
    pub(crate) pause_reasons: Arc<RwLock<Vec<PauseReasonRow>>>,
    pub(crate) flows: Arc<super::Flows>,
}

/// Starts a controller of a pair: the API at once, as a standby; the engine and the switch
/// links once elected. The returned `Running` ends with [`AppError::Deposed`] when this
/// controller loses a leadership it held.
pub async fn start_pair(mut options: StartOptions, pair: PairOptions) -> Result<Running, AppError> {
    let url = crate::store::controller_url(&options.database_url, &pair.name);
    options.database_url = url.clone();
    let (view_tx, view_rx) = watch::channel(View::standby(None));
    // `prepare` applies the migrations, the leadership table's among them.
    let (mut running, leader) = prepare(options, view_rx).await?;
    let mut connection = LeaderConnection::connect(&url).await?;
    let first = connection.read().await?;
    view_tx.send_replace(View::standby(Some(&first)));
    let listener = ChangeListener::connect(&url).await?;
    let shared = leader.shared();
    let stop = running.stop.subscribe();
    let role = view_tx.subscribe();
    running
        .tasks
        .spawn(follow_changes(listener, shared, role, stop));
    let stop = running.stop.subscribe();
    running
        .tasks
        .spawn(lead(url, connection, pair, leader, view_tx, stop));
    Ok(running)
}

/// Waits for the leadership, then leads until stopped or deposed.
async fn lead(
    url: String,
    mut connection: LeaderConnection,
    pair: PairOptions,
    leader: LeaderPart,
    view: watch::Sender<View>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    let fence = Fence::closed();
    let mut suspect: Option<(i64, Instant)> = None;
    let epoch = loop {
        match wait_round(&mut connection, &pair, &fence, &view, &mut suspect).await {
            Ok(Some(epoch)) => break epoch,
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, "leadership: the database did not answer; reconnecting");
                // A lost connection holds no lock: start over on a new one.
                if let Ok(fresh) = LeaderConnection::connect(&url).await {
                    connection = fresh;
                }
            }
        }
        tokio::select! {
            () = stopped(&mut stop) => return Ok(()),
            () = tokio::time::sleep(POLL) => {}
        }
    };
    info!(
        epoch,
        name = %pair.name,
        "elected leader: taking over the switches (resync, then routing)"
    );
    view.send_replace(View {
        role: Role::Leader,
        epoch: Some(epoch),
        leader: Some((pair.name.clone(), pair.advertise_url.clone())),
    });
    let mut tasks = JoinSet::new();
    if let Err(e) = leader.start(&mut tasks, fence.clone(), Some(epoch)).await {
        fence.revoke();
        return Err(e);
    }
    let mut renewals = tokio::time::interval(pair.renew_every());
    renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => {
                while let Some(done) = tasks.join_next().await {
                    if let Ok(Err(e)) = done {
                        warn!(error = %e, "a leader task failed while stopping");
                    }
                }
                if let Err(e) = connection.release(epoch).await {
                    warn!(error = %e, "could not release the lease; the standby waits it out");
                }
                return Ok(());
            }
            Some(done) = tasks.join_next() => {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        fence.revoke();
                        return Err(e);
                    }
                    Err(e) => error!(error = %e, "leader task ended abnormally"),
                }
            }
            _ = renewals.tick() => {
                let sent_at = Instant::now();
                let within = pair.lease.saturating_sub(pair.margin());
                let renewed = tokio::time::timeout(within, connection.renew(epoch, pair.lease)).await;
                let lost = match renewed {
                    Ok(Ok(true)) => {
                        fence.extend(sent_at, pair.lease, pair.margin());
                        None
                    }
                    Ok(Ok(false)) => Some("another controller began a new epoch".to_owned()),
                    Ok(Err(e)) => Some(format!("the lease could not be renewed: {e}")),
                    Err(_) => Some("the lease renewal did not answer in time".to_owned()),
                };
                let lost = lost.or_else(|| {
                    (!fence.permits()).then(|| "the lease ran out before it was renewed".to_owned())
                });
                if let Some(reason) = lost {
                    fence.revoke();
                    view.send_replace(View::standby(None));
                    error!(
                        epoch,
                        %reason,
                        refused = fence.refused(),
                        "lost leadership of epoch {epoch}; exiting so the supervisor restarts \
                         this controller as a standby"
                    );
                    return Err(AppError::Deposed { epoch, reason });
                }
            }
        }
    }
}

/// One standby round: takes the leadership if the lock is free (after the previous lease ran
/// out), evicts a holder stuck on an expired lease, and keeps the view of the leader current.
async fn wait_round(
    connection: &mut LeaderConnection,
    pair: &PairOptions,
    fence: &Fence,
    view: &watch::Sender<View>,
    suspect: &mut Option<(i64, Instant)>,
) -> Result<Option<i64>, crate::store::StoreError> {
    if connection.try_lock().await? {
        // The previous leader may be cut off from the database yet alive: its fence closes
        // before its lease ends, so wait the lease out before commanding anything.
        let previous = loop {
            let row = connection.read().await?;
            if row.lease_expired {
                break row;
            }
            view.send_replace(View::standby(Some(&row)));
            tokio::time::sleep(POLL).await;
        };
        // Its lease is over, so it commands nothing; a transaction of its left open (a hung
        // process) would hold the claim up.
        let ended = connection.end_sessions_of(&previous.session).await?;
        if ended > 0 {
            warn!(
                epoch = previous.epoch,
                leader = %previous.leader,
                ended,
                "ended the database sessions the previous leader left open"
            );
        }
        let sent_at = Instant::now();
        let epoch = connection
            .claim(&pair.name, &pair.advertise_url, pair.lease)
            .await?;
        fence.extend(sent_at, pair.lease, pair.margin());
        return Ok(Some(epoch));
    }
    let row = connection.read().await?;
    view.send_replace(View::standby(Some(&row)));
    if !row.lease_expired {
        *suspect = None;
        return Ok(None);
    }
    match *suspect {
        Some((epoch, since)) if epoch == row.epoch && since.elapsed() >= EVICT_GRACE => {
            let evicted = connection.evict_holder().await?;
            warn!(
                epoch = row.epoch,
                leader = %row.leader,
                evicted,
                "the leader's lease ran out while it held the lock (paused, hung or cut off): \
                 ended its database session"
            );
            *suspect = None;
        }
        Some((epoch, _)) if epoch == row.epoch => {}
        _ => *suspect = Some((row.epoch, Instant::now())),
    }
    Ok(None)
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Reloads what another controller changed, as PostgreSQL notifies it.
async fn follow_changes(
    mut listener: ChangeListener,
    shared: Shared,
    role: watch::Receiver<View>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return Ok(()),
            change = listener.recv() => match change {
                // The leader reloaded its flows itself, into its engine too.
                Ok(Some(Change::Flows)) if !role.borrow().is_standby() => {}
                Ok(Some(change)) => reload(&shared, change).await,
                Ok(None) => {}
                Err(e) => {
                    // Notifications may have been lost meanwhile: read everything again.
                    warn!(error = %e, "change notifications interrupted; reloading");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    reload(&shared, Change::Tokens).await;
                    reload(&shared, Change::PauseReasons).await;
                }
            },
        }
    }
}

async fn reload(shared: &Shared, change: Change) {
    let done = match change {
        Change::Tokens => shared.auth.reload(&shared.store).await,
        Change::PauseReasons => shared.store.list_pause_reasons().await.map(|reasons| {
            *shared
                .pause_reasons
                .write()
                .unwrap_or_else(PoisonError::into_inner) = reasons;
        }),
        Change::Flows => {
            if let Err(e) = shared.flows.reread(&shared.store).await {
                warn!(error = %e, "cannot read the flows the leader reloaded; serving the previous ones");
            }
            Ok(())
        }
        // Read from the database on every request, and by the engine when it takes over.
        Change::Subscriptions | Change::Agents => Ok(()),
    };
    if let Err(e) = done {
        warn!(change = change.as_str(), error = %e, "cannot reload after a change");
    }
}
