//! Supervisors' numbers: one set of metric definitions for the live statistics and the
//! interval reports.
//!
//! Why one module of pure functions: a service level or an AHT must mean the same on the
//! wallboard, in `GET /v1/stats/...` and in last month's report, so there is exactly one place
//! that says what each number is. The store aggregates its per-visit facts per 15-minute
//! bucket (`QueueBucket`) and hands back agents' state changes as they are (`StateChange`);
//! this module folds them into intervals of a time zone (`intervals`), and turns the folded
//! counts into the published figures (`totals`, `agents`), and the agents the calls needed
//! by Erlang C (`staffing_need`). "Today" and the rolling window are
//! reports over `[local midnight, now)` and `[now - window, now)` folded into one interval.
//! No I/O and no clock: `now` is always an argument. Definitions: `docs/statistics.md`.

pub mod agents;
pub mod csv;
pub mod intervals;
pub mod staffing_need;
pub mod totals;

pub use agents::{AgentBucket, AgentTotals, StateChange};
pub use intervals::{Interval, IntervalError, Period, BUCKET_MS};
pub use staffing_need::{needed, needed_now, StaffingNeed};
pub use totals::{QueueBucket, QueueTotals, Targets};
