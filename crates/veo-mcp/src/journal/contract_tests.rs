//! The journal's contract, as tests every backend must pass ([`backends`] lists them), in
//! terms of [`JournalStore`] only.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use veo_core::{EffectiveParameters, TaskResult, TaskStatus};

use super::{
    Begin, Journal, JournalLocation, JournalStore, Lease, NewSubmit, SubmitFailure, SubmitId,
    SubmitState, TaskEntry, TaskFilter,
};

/// The variable naming the PostgreSQL server the tests may use (`.ci/run` sets it).
#[cfg(feature = "postgres")]
pub(crate) const TEST_POSTGRES: &str = "VEO_TEST_POSTGRES";

/// A fresh, empty journal of every backend built in: SQLite, and PostgreSQL (in a scratch schema
/// of its own) when [`TEST_POSTGRES`] names a server; otherwise that is said once on stderr.
pub(super) async fn backends() -> Vec<Journal> {
    let sqlite = super::open(&JournalLocation::Memory)
        .await
        .expect("an SQLite journal in memory");
    #[cfg(feature = "postgres")]
    if let Some(url) = test_postgres() {
        let scratch = super::postgres::scratch_schema(&url, "veo_test")
            .await
            .expect("a scratch schema on the test PostgreSQL server");
        let postgres = super::open(&JournalLocation::Postgres(scratch))
            .await
            .expect("a PostgreSQL journal");
        return vec![sqlite, postgres];
    }
    vec![sqlite]
}

/// The test PostgreSQL server, if there is one; if not, says on stderr that the calling test
/// skips its PostgreSQL part, and why.
#[cfg(feature = "postgres")]
pub(crate) fn test_postgres() -> Option<super::postgres::PostgresUrl> {
    match std::env::var(TEST_POSTGRES) {
        Ok(url) if !url.is_empty() => {
            Some(super::postgres::PostgresUrl::parse(&url).expect("VEO_TEST_POSTGRES is a URL"))
        }
        _ => {
            // Straight to stderr, past the test harness' capture, so the skip is seen. The
            // harness names each test's thread after the test.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "note: {} skips PostgreSQL: {TEST_POSTGRES} is not set (.ci/run sets it to the local server)",
                std::thread::current().name().unwrap_or("a journal test")
            );
            None
        }
    }
}

pub(super) fn submit(fingerprint: &str) -> NewSubmit {
    NewSubmit {
        fingerprint: fingerprint.into(),
        prompt: "a fox".into(),
        parameters: EffectiveParameters::from(&veo_core::TransitionRequest::new("a", "b", "p")),
        owner: Some("this-machine:1:1".into()),
    }
}

pub(super) fn result(task_id: &str, status: &str, videos: usize) -> TaskResult {
    let videos: Vec<Value> = (0..videos)
        .map(|i| json!({"video_url": format!("http://x/{i}.mp4"), "video_url_ttl": "3600", "video_type": "mp4"}))
        .collect();
    TaskResult::from_json(
        &json!({"task": {"task_id": task_id, "status": status, "progress_percent": 50, "reason": "why"}, "videos": videos}),
        task_id,
        SystemTime::now(),
    )
}

pub(super) const WINDOW: Duration = Duration::from_secs(600);

pub(super) async fn proceed(j: &dyn JournalStore, fingerprint: &str) -> SubmitId {
    match j
        .begin_submit(submit(fingerprint), WINDOW, false, None)
        .await
        .unwrap()
    {
        Begin::Proceed(id) => id,
        other => panic!("{fingerprint} did not proceed: {other:?}"),
    }
}

pub(super) async fn duplicate(j: &dyn JournalStore, fingerprint: &str) -> TaskEntry {
    match j
        .begin_submit(submit(fingerprint), WINDOW, false, None)
        .await
        .unwrap()
    {
        Begin::Duplicate(entry) => *entry,
        other => panic!("{fingerprint} is not a duplicate: {other:?}"),
    }
}

#[tokio::test]
async fn identical_requests_within_the_window_are_one_task() {
    for j in backends().await {
        let id = proceed(&*j, "f1").await;
        // While the first is still being sent, a twin sees it.
        assert_eq!(
            duplicate(&*j, "f1").await.submit_state,
            SubmitState::Sending
        );
        j.record_submitted(id, "t-1", None).await.unwrap();
        let entry = duplicate(&*j, "f1").await;
        assert_eq!(entry.task_id.as_deref(), Some("t-1"));
        assert_eq!(
            entry.parameters,
            Some(submit("f1").parameters),
            "typed round trip"
        );
        assert!(matches!(
            j.begin_submit(submit("f1"), WINDOW, true, None)
                .await
                .unwrap(),
            Begin::Proceed(_)
        ));
        proceed(&*j, "f2").await;
        // Outside the window, or after the task failed, a new submit goes ahead.
        assert!(matches!(
            j.begin_submit(submit("f1"), Duration::ZERO, false, None)
                .await
                .unwrap(),
            Begin::Proceed(_)
        ));
        let id3 = proceed(&*j, "f3").await;
        j.record_submitted(id3, "t-3", None).await.unwrap();
        j.record_result(&result("t-3", "TASK_STATUS_FAILED", 0))
            .await
            .unwrap();
        let failed = j.get("t-3").await.unwrap().unwrap();
        assert_eq!(failed.failure_reason.as_deref(), Some("why"));
        assert_eq!(failed.submit_error, None);
        proceed(&*j, "f3").await;
        // A rejected submit does not block a new attempt; one in doubt does.
        let rejected = proceed(&*j, "f4").await;
        j.record_submit_failed(rejected, SubmitFailure::Rejected, "HTTP 400")
            .await
            .unwrap();
        proceed(&*j, "f4").await;
        let doubtful = proceed(&*j, "f5").await;
        j.record_submit_failed(doubtful, SubmitFailure::OutcomeUnknown, "reply lost")
            .await
            .unwrap();
        let entry = duplicate(&*j, "f5").await;
        assert_eq!(entry.submit_state, SubmitState::OutcomeUnknown);
        assert_eq!(entry.submit_error.as_deref(), Some("reply lost"));
    }
}

#[tokio::test]
async fn a_task_seen_but_never_submitted_here_is_adopted_without_parameters() {
    for j in backends().await {
        j.record_result(&result("elsewhere", "TASK_STATUS_QUEUED", 0))
            .await
            .unwrap();
        let entry = j.get("elsewhere").await.unwrap().unwrap();
        assert_eq!(entry.submit_state, SubmitState::Submitted);
        assert_eq!(entry.status, Some(TaskStatus::Queued));
        assert_eq!(entry.parameters, None);
    }
}

#[tokio::test]
async fn a_reissued_task_id_does_not_lose_the_new_task() {
    for j in backends().await {
        let mut ids = Vec::new();
        for fingerprint in ["old", "new"] {
            let id = proceed(&*j, fingerprint).await;
            j.record_submitted(id, "same-id", None).await.unwrap();
            ids.push(id);
        }
        assert_eq!(j.get("same-id").await.unwrap().unwrap().local_id, ids[1]);
        let old = j.get_local(ids[0]).await.unwrap().unwrap();
        assert_eq!(
            old.task_id,
            Some(format!("same-id~superseded-{}", ids[0].0))
        );
    }
}

#[tokio::test]
async fn a_submit_interrupted_by_a_crash_becomes_unknown() {
    for j in backends().await {
        let id = proceed(&*j, "f").await;
        assert_eq!(
            j.recover_interrupted(Duration::from_secs(60), &|_| false)
                .await
                .unwrap(),
            0,
            "too recent, and its process may still be sending it"
        );
        assert_eq!(
            j.recover_interrupted(Duration::from_secs(60), &|owner| owner
                == "this-machine:1:1")
                .await
                .unwrap(),
            1,
            "its process is gone: judged at once"
        );
        let again = proceed(&*j, "g").await;
        assert_eq!(
            j.recover_interrupted(Duration::ZERO, &|_| false)
                .await
                .unwrap(),
            1,
            "old enough, whoever sent it"
        );
        assert_eq!(
            j.get_local(again).await.unwrap().unwrap().submit_state,
            SubmitState::OutcomeUnknown
        );
        let entry = j.get_local(id).await.unwrap().unwrap();
        assert_eq!(entry.submit_state, SubmitState::OutcomeUnknown);
        assert!(entry.submit_error.unwrap().contains("stopped"));
        let listed = j.list(Some(TaskFilter::OutcomeUnknown), 10).await.unwrap();
        assert_eq!(listed.len(), 2);
    }
}

#[test]
fn a_budget_says_when_a_call_of_this_size_fits_again() {
    let budget = super::Budget {
        limit_seconds: 16,
        period: Duration::from_secs(3600),
    };
    let now = SystemTime::now();
    let ago = |s: u64| now - Duration::from_secs(s);
    let spent = [(ago(4000), 8), (ago(1000), 8), (ago(500), 8)];
    assert!(
        budget.check(&spent[..1], 8, now).is_ok(),
        "outside the window"
    );
    assert!(
        budget.check(&spent[1..2], 8, now).is_ok(),
        "exactly at the limit"
    );
    let over = budget.check(&spent, 4, now).unwrap_err();
    assert_eq!(over.used_seconds, 16);
    assert_eq!(
        over.fits_at,
        Some(ago(1000) + budget.period),
        "when the oldest leaves"
    );
    let too_big = budget.check(&[], 17, now).unwrap_err();
    assert_eq!(too_big.fits_at, None, "never");
}

#[tokio::test]
async fn pending_tasks_are_those_unfinished_or_unsaved() {
    for j in backends().await {
        let id = proceed(&*j, "f").await;
        j.record_submitted(id, "t-9", None).await.unwrap();
        assert_eq!(j.pending(true).await.unwrap(), vec!["t-9".to_string()]);
        j.record_result(&result("t-9", "TASK_STATUS_SUCCEED", 2))
            .await
            .unwrap();
        assert_eq!(j.pending(true).await.unwrap(), vec!["t-9".to_string()]);
        assert!(j.pending(false).await.unwrap().is_empty(), "not saving");
        let path = |n: u32| std::path::PathBuf::from(format!("/out/t-9/t-9-{n}.mp4"));
        j.record_saved("t-9", 0, "http://x/0.mp4", &path(1), 10)
            .await
            .unwrap();
        assert_eq!(j.pending(true).await.unwrap().len(), 1, "one still unsaved");
        j.record_saved("t-9", 1, "http://x/1.mp4", &path(2), 10)
            .await
            .unwrap();
        assert!(j.pending(true).await.unwrap().is_empty());
        j.record_save_failed("t-9", "late error from another process")
            .await
            .unwrap();
        let entry = j.get("t-9").await.unwrap().unwrap();
        assert_eq!(entry.save_error, None, "all saved: no error");
        assert_eq!(entry.videos[1].path, Some(path(2)));
        assert_eq!(entry.status, Some(TaskStatus::Succeeded));
        assert!(entry.all_saved());
        assert!(entry.videos[0].expires_at.is_some());
        assert_eq!(
            j.list(Some(TaskFilter::Succeeded), 10).await.unwrap().len(),
            1
        );
        assert!(
            j.list(Some(TaskFilter::Failed), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            j.record_saved("unknown", 0, "u", std::path::Path::new("/x"), 1)
                .await
                .is_err()
        );
        j.check().await.unwrap();
    }
}

#[tokio::test]
async fn each_task_has_one_lease_holder_until_its_lease_runs_out() {
    const LONG: Duration = Duration::from_secs(600);
    for j in backends().await {
        let mut tasks = Vec::new();
        for n in 0..3 {
            let id = proceed(&*j, &format!("lease-{n}")).await;
            j.record_submitted(id, &format!("t-{n}"), None)
                .await
                .unwrap();
            tasks.push(format!("t-{n}"));
        }
        // `a` takes two, `b` the one left; neither takes the other's.
        assert_eq!(
            j.claim_pending("a", LONG, true, 2).await.unwrap(),
            &tasks[..2]
        );
        assert_eq!(
            j.claim_pending("b", LONG, true, 10).await.unwrap(),
            &tasks[2..]
        );
        assert!(
            j.claim_pending("c", LONG, true, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!j.claim("t-0", "b", LONG).await.unwrap(), "held by a");
        assert!(
            j.claim("t-0", "a", LONG).await.unwrap(),
            "renewed by its holder"
        );
        assert_eq!(
            j.claim_pending("a", LONG, true, 10).await.unwrap(),
            &tasks[..2],
            "a renews its own"
        );
        // Released: anyone may take it at once.
        j.release("t-0", "b").await.unwrap();
        assert!(
            !j.claim("t-0", "c", LONG).await.unwrap(),
            "b cannot release a's"
        );
        j.release("t-0", "a").await.unwrap();
        assert!(j.claim("t-0", "c", LONG).await.unwrap());
        // A lease that ran out (its holder stopped renewing) is taken over.
        assert!(j.claim("t-1", "a", Duration::ZERO).await.unwrap());
        assert_eq!(
            j.claim_pending("d", LONG, true, 10).await.unwrap(),
            vec!["t-1".to_string()]
        );
        // Finished tasks are not claimed; an unknown task cannot be.
        j.record_result(&result("t-2", "TASK_STATUS_FAILED", 0))
            .await
            .unwrap();
        j.release("t-2", "b").await.unwrap();
        assert!(
            j.claim_pending("e", LONG, true, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!j.claim("never-seen", "e", LONG).await.unwrap());
    }
}

#[tokio::test]
async fn a_task_id_recorded_with_a_lease_is_held_from_that_write_on() {
    const LONG: Duration = Duration::from_secs(600);
    let lease = |holder| Lease {
        holder,
        duration: LONG,
    };
    for j in backends().await {
        let id = proceed(&*j, "leased-0").await;
        j.record_submitted(id, "leased-0", Some(lease("a")))
            .await
            .unwrap();
        assert!(!j.claim("leased-0", "b", LONG).await.unwrap(), "held by a");
        assert!(
            j.claim_pending("b", LONG, true, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            j.claim_pending("a", LONG, true, 10).await.unwrap(),
            ["leased-0"]
        );
        let entry = j.get("leased-0").await.unwrap().unwrap();
        assert_eq!(entry.submit_state, SubmitState::Submitted);
    }
}

#[tokio::test]
async fn concurrent_submits_are_each_recorded_once_with_their_lease() {
    const LONG: Duration = Duration::from_secs(600);
    for j in backends().await {
        let submits = (0..48).map(|n| {
            let j = j.clone();
            tokio::spawn(async move {
                let id = proceed(&*j, &format!("many-{n}")).await;
                let holder = format!("h{}", n % 3);
                let lease = Lease {
                    holder: &holder,
                    duration: LONG,
                };
                j.record_submitted(id, &format!("many-{n}"), Some(lease))
                    .await
                    .unwrap();
            })
        });
        for submit in submits.collect::<Vec<_>>() {
            submit.await.unwrap();
        }
        for h in 0..3 {
            let held = j
                .claim_pending(&format!("h{h}"), LONG, true, 100)
                .await
                .unwrap();
            let mut expected: Vec<String> = (0..48)
                .filter(|n| n % 3 == h)
                .map(|n| format!("many-{n}"))
                .collect();
            let mut held_sorted = held.clone();
            held_sorted.sort();
            expected.sort();
            assert_eq!(held_sorted, expected, "holder h{h}");
        }
        assert_eq!(j.list(None, 100).await.unwrap().len(), 48);
    }
}

#[tokio::test]
async fn holders_claiming_at_once_never_share_a_task() {
    for j in backends().await {
        for n in 0..40 {
            let id = proceed(&*j, &format!("race-{n}")).await;
            j.record_submitted(id, &format!("r-{n}"), None)
                .await
                .unwrap();
        }
        let claims = (0..4).map(|h| {
            let j = j.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..10 {
                    mine.extend(
                        j.claim_pending(&format!("h{h}"), Duration::from_secs(600), true, 3)
                            .await
                            .unwrap(),
                    );
                }
                mine
            })
        });
        let mut all: Vec<String> = Vec::new();
        for claim in claims {
            let mine = claim.await.unwrap();
            let mut unique = mine.clone();
            unique.sort();
            unique.dedup();
            all.extend(unique);
        }
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!(total, all.len(), "a task was claimed by two holders");
        assert_eq!(total, 40, "every task was claimed");
    }
}

#[tokio::test]
async fn saved_entries_are_listed_newest_first_a_page_at_a_time() {
    for j in backends().await {
        for n in 1..=4 {
            let task = format!("s-{n}");
            let id = proceed(&*j, &format!("f{n}")).await;
            j.record_submitted(id, &task, None).await.unwrap();
            j.record_result(&result(&task, "TASK_STATUS_SUCCEED", 1))
                .await
                .unwrap();
            // The third is succeeded but not saved: not listed.
            if n != 3 {
                let path = std::path::PathBuf::from(format!("/out/{task}/{task}.mp4"));
                j.record_saved(&task, 0, "http://x/0.mp4", &path, 7)
                    .await
                    .unwrap();
            }
        }
        let ids = |entries: &[TaskEntry]| -> Vec<String> {
            entries.iter().filter_map(|e| e.task_id.clone()).collect()
        };
        let first = j.list_saved(None, 2).await.unwrap();
        assert_eq!(ids(&first), ["s-4", "s-2"]);
        assert_eq!(first[0].videos[0].bytes, Some(7));
        let rest = j.list_saved(Some(first[1].local_id), 2).await.unwrap();
        assert_eq!(ids(&rest), ["s-1"]);
        let none = j.list_saved(Some(rest[0].local_id), 2).await.unwrap();
        assert!(none.is_empty());
    }
}
