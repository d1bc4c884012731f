//! The SQLite backend's own tests: files, migrations, concurrent openers, owners' encoding.
use super::schema::MIGRATIONS;
use super::*;
use crate::journal::SubmitState;
use crate::journal::contract_tests::{proceed, result, submit};
use crate::journal::stored::status_from_name;

#[tokio::test]
async fn a_journal_file_is_created_with_its_directory_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let location = JournalLocation::File(dir.path().join("sub/journal.sqlite3"));
    let j = SqliteJournal::open(&location).unwrap();
    let id = proceed(&j, "f").await;
    j.record_submitted(id, "t-9", None).await.unwrap();
    j.record_result(&result("t-9", "TASK_STATUS_SUCCEED", 1))
        .await
        .unwrap();
    j.record_saved(
        "t-9",
        0,
        "http://x/0.mp4",
        Path::new("/out/t-9/t-9.mp4"),
        10,
    )
    .await
    .unwrap();
    drop(j);
    let j = SqliteJournal::open(&location).unwrap();
    let entry = j.get("t-9").await.unwrap().unwrap();
    assert!(entry.all_saved());
    assert_eq!(entry.status, Some(TaskStatus::Succeeded));
}

#[test]
fn a_submit_state_this_version_does_not_know_is_in_doubt() {
    assert_eq!(
        SubmitState::from_name("queued_for_retry"),
        SubmitState::OutcomeUnknown
    );
    for state in [
        SubmitState::Sending,
        SubmitState::Submitted,
        SubmitState::OutcomeUnknown,
        SubmitState::Rejected,
    ] {
        assert_eq!(SubmitState::from_name(state.as_str()), state);
    }
    assert_eq!(status_from_name("weird"), TaskStatus::Unknown);
    assert_eq!(
        status_from_name(TaskStatus::Processing.as_str()),
        TaskStatus::Processing
    );
}

#[tokio::test]
async fn a_journal_from_before_versioning_is_migrated_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.sqlite3");
    {
        // A journal as veo wrote it before the schema had a version.
        let c = Connection::open(&file).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        let params = serde_json::to_string(&submit("x").parameters).unwrap();
        c.execute(
            "INSERT INTO submits (fingerprint, model, prompt, parameters, created_at, updated_at, submit_state, task_id, status, detail)
             VALUES ('a', 'veo-3.1', 'p', ?1, 1, 1, 'submitted', 'failed-task', 'failed', 'content policy'),
                    ('b', 'veo-3.1', 'p', ?1, 1, 1, 'outcome_unknown', NULL, NULL, 'reply lost')",
            params![params],
        )
        .unwrap();
    }
    let location = JournalLocation::File(file.clone());
    let j = SqliteJournal::open(&location).unwrap();
    let failed = j.get("failed-task").await.unwrap().unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("content policy"));
    assert_eq!(failed.submit_error, None);
    let doubtful = j.list(Some(TaskFilter::OutcomeUnknown), 10).await.unwrap();
    assert_eq!(doubtful[0].submit_error.as_deref(), Some("reply lost"));
    // Video seconds of old submits are derived from their parameters (8 s × 1 sample each).
    let spent = j.spending(UNIX_EPOCH).await.unwrap();
    assert_eq!(spent.iter().map(|(_, s)| s).sum::<u64>(), 16);
    // A row as an older veo still sharing the file writes it (only `detail`) reads right.
    {
        let c = Connection::open(&file).unwrap();
        c.execute(
            "INSERT INTO submits (fingerprint, model, prompt, parameters, created_at, updated_at, submit_state, task_id, status, detail)
             VALUES ('c', 'veo-3.1', 'p', '{\"model\":\"veo-9\"}', 2, 2, 'submitted', 'old-writer', 'failed', 'old reason')",
            [],
        )
        .unwrap();
    }
    let old = j.get("old-writer").await.unwrap().unwrap();
    assert_eq!(old.failure_reason.as_deref(), Some("old reason"));
    assert_eq!(
        old.parameters, None,
        "unreadable parameters do not hide the entry"
    );
    assert_eq!(j.list(None, 10).await.unwrap().len(), 3);
    drop(j);
    // Opening again changes nothing; a journal of a newer schema is refused.
    SqliteJournal::open(&location).unwrap();
    Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let refused = SqliteJournal::open(&location).unwrap_err().to_string();
    assert!(refused.contains("newer version of veo"), "{refused}");
}

#[test]
fn processes_opening_an_old_journal_at_once_migrate_it_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("journal.sqlite3");
        Connection::open(&file)
            .unwrap()
            .execute_batch(MIGRATIONS[0])
            .unwrap();
        let location = JournalLocation::File(file.clone());
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let location = location.clone();
                std::thread::spawn(move || SqliteJournal::open(&location).map(drop))
            })
            .collect();
        for opener in openers {
            opener
                .join()
                .unwrap()
                .expect("every process opens the journal");
        }
        let version: u32 = Connection::open(&file)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as u32);
        SqliteJournal::open(&location).expect("and again later");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_claiming_one_file_at_once_never_share_a_task() {
    // Two connections to one file, as two processes have: their claims really interleave.
    let dir = tempfile::tempdir().unwrap();
    let location = JournalLocation::File(dir.path().join("journal.sqlite3"));
    let journals = [
        std::sync::Arc::new(SqliteJournal::open(&location).unwrap()),
        std::sync::Arc::new(SqliteJournal::open(&location).unwrap()),
    ];
    for n in 0..40 {
        let id = proceed(&*journals[0], &format!("race-{n}")).await;
        journals[0]
            .record_submitted(id, &format!("r-{n}"), None)
            .await
            .unwrap();
    }
    let claims = (0..4).map(|h| {
        let j = journals[h % 2].clone();
        tokio::spawn(async move {
            let mut mine = std::collections::BTreeSet::new();
            for _ in 0..10 {
                let lease = Duration::from_secs(600);
                mine.extend(
                    j.claim_pending(&format!("h{h}"), lease, true, 3)
                        .await
                        .unwrap(),
                );
            }
            mine
        })
    });
    let mut all = Vec::new();
    for claim in claims {
        all.extend(claim.await.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, all.len(), "a task was claimed by two holders");
    assert_eq!(total, 40);
}

#[tokio::test]
async fn tasks_older_than_the_horizon_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let location = JournalLocation::File(dir.path().join("journal.sqlite3"));
    let j = SqliteJournal::open(&location).unwrap();
    for fingerprint in ["old", "new"] {
        let id = proceed(&j, fingerprint).await;
        j.record_submitted(id, fingerprint, None).await.unwrap();
    }
    let eight_days_ago = millis(SystemTime::now() - Duration::from_secs(8 * 24 * 3600));
    Connection::open(dir.path().join("journal.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE submits SET created_at = ?1 WHERE task_id = 'old'",
            params![eight_days_ago],
        )
        .unwrap();
    assert_eq!(j.pending(true).await.unwrap(), vec!["new".to_string()]);
    let claimed = j
        .claim_pending("h", Duration::from_secs(60), true, 10)
        .await
        .unwrap();
    assert_eq!(claimed, vec!["new".to_string()]);
}
