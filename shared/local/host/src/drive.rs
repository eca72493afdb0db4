//! How the host runs its worker: in the background, as a deployment does (messages are
//! received as soon as they are due), or stepped, as the end-to-end suites do: nothing runs
//! until asked, then every due job runs to its end and the clock skips ahead to the next
//! delayed one instead of sleeping through the delay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use llbridge_memory::{MemoryQueue, SteppedClock};
use llbridge_usecases::ports::{Clock, Queue, Received};
use llbridge_usecases::worker::{Report, Settle, Worker};
use tokio::sync::watch;

/// How the worker of a host runs.
#[derive(Clone, Default)]
pub enum Drive {
    /// A background loop, as in a deployment.
    #[default]
    Background,
    /// Only when the host is asked to settle, on this clock (the host's clock then), which
    /// settling moves ahead to each delayed job. Needs the embedded queue.
    Stepped(Arc<SteppedClock>),
}

impl Drive {
    /// Stepped, on a clock of its own that starts at the wall clock's time.
    pub fn stepped() -> Drive {
        Drive::Stepped(Arc::new(SteppedClock::new()))
    }
}

/// Jobs handled at once, as concurrent Lambda invocations would.
const CONCURRENCY: usize = 16;

/// The reports of every job the host ran, in order.
pub(crate) type Reports = Arc<Mutex<Vec<Report>>>;

/// Runs one message and settles it as the worker says: acked, released for a retry after a
/// growing delay, or moved to the dead letters with its reason.
async fn handle(worker: Arc<Worker>, queue: Arc<dyn Queue>, reports: Reports, msg: Received) {
    let deadline = worker.clock.now_ms() + worker.timing.job_budget.as_millis() as i64;
    let settled = worker.settle(&msg.body, msg.receive_count, deadline).await;
    let report = match &settled {
        Settle::Ack(r) | Settle::Retry { report: r, .. } | Settle::GiveUp(r) => r.clone(),
    };
    let done = match settled {
        Settle::Ack(_) => queue.ack(&msg.receipt).await,
        Settle::Retry { after, .. } => queue.release(&msg.receipt, after).await,
        Settle::GiveUp(r) => {
            match queue
                .dead_letter(&msg.body, &r.given_up(msg.receive_count))
                .await
            {
                Ok(()) => queue.ack(&msg.receipt).await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "worker: could not settle a message with the queue; it will be delivered again");
    }
    if let Ok(mut r) = reports.lock() {
        r.push(report);
    }
}

/// Runs [`run_worker`] on a thread and runtime of its own, as a deployment runs the worker in
/// a Lambda of its own: the jobs' CPU work never holds up the webhook's answers. The handle
/// ends when the loop does.
pub(crate) fn spawn_worker(
    worker: Arc<Worker>,
    queue: Arc<dyn Queue>,
    reports: Reports,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("llbridge-worker")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(run_worker(worker, queue, reports, stop)),
            Err(e) => tracing::error!(error = %e, "host: the worker's runtime did not start"),
        }
    })
}

/// Receives and handles messages until told to stop, up to [`CONCURRENCY`] at once.
async fn run_worker(
    worker: Arc<Worker>,
    queue: Arc<dyn Queue>,
    reports: Reports,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = stop.changed() => break,
            }
            continue;
        }
        let batch = tokio::select! {
            r = queue.receive(free.min(10), Duration::from_secs(1)) => r,
            _ = stop.changed() => break,
        };
        let Ok(batch) = batch else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        for msg in batch {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (worker, queue, reports) = (worker.clone(), queue.clone(), reports.clone());
            running.spawn(async move {
                let _permit = permit;
                handle(worker, queue, reports, msg).await;
            });
        }
    }
    running.abort_all();
}

/// The worker of a stepped host.
pub(crate) struct Stepper {
    pub worker: Arc<Worker>,
    pub queue: Arc<MemoryQueue>,
    pub clock: Arc<SteppedClock>,
}

impl Stepper {
    /// Runs every job due now, a batch at a time (the jobs of a batch concurrently, as
    /// concurrent invocations would), then moves the clock to the next delayed job and runs
    /// that, until none is due within `horizon` of now. Returns false when the queue failed.
    pub async fn run(&self, horizon: Duration, reports: &Reports) -> bool {
        let until = self.clock.now_ms() + horizon.as_millis() as i64;
        loop {
            let Ok(batch) = self.queue.receive(CONCURRENCY, Duration::ZERO).await else {
                return false;
            };
            if !batch.is_empty() {
                let mut running = tokio::task::JoinSet::new();
                for msg in batch {
                    let queue: Arc<dyn Queue> = self.queue.clone();
                    running.spawn(handle(self.worker.clone(), queue, reports.clone(), msg));
                }
                while running.join_next().await.is_some() {}
                continue;
            }
            match self.queue.next_visible_at() {
                Some(at) if at <= until => self.clock.step_to(at),
                _ => return true,
            }
        }
    }
}
