//! The PostgreSQL backend's own tests: several pools on one database (as replicas are),
//! schema versions, unreachable servers and secrets in its address. They run when
//! `VEO_TEST_POSTGRES` names a server (the contract tests say once when it does not).

use std::time::Duration;

use super::*;
use crate::journal::contract_tests::{WINDOW, submit, test_postgres};
use crate::journal::{Begin, Budget, JournalLocation};

/// Two journals ("replicas") on one fresh scratch schema.
async fn two_replicas() -> Option<(PostgresJournal, PostgresJournal, PostgresUrl)> {
    let server = test_postgres()?;
    let url = scratch_schema(&server, "veo_test").await.unwrap();
    let one = PostgresJournal::open(&url).await.unwrap();
    let two = PostgresJournal::open(&url).await.unwrap();
    Some((one, two, url))
}

#[tokio::test]
async fn identical_submits_reaching_replicas_at_once_make_one_task() {
    let Some((one, two, _)) = two_replicas().await else {
        return;
    };
    let (one, two) = (std::sync::Arc::new(one), std::sync::Arc::new(two));
    let attempts = (0..20).map(|n| {
        let j = if n % 2 == 0 { one.clone() } else { two.clone() };
        tokio::spawn(async move { j.begin_submit(submit("same"), WINDOW, false, None).await })
    });
    let mut proceeded = 0;
    for attempt in attempts {
        if let Begin::Proceed(_) = attempt.await.unwrap().unwrap() {
            proceeded += 1;
        }
    }
    assert_eq!(proceeded, 1);
}

#[tokio::test]
async fn replicas_submitting_at_once_never_pass_the_budget_together() {
    let Some((one, two, _)) = two_replicas().await else {
        return;
    };
    let (one, two) = (std::sync::Arc::new(one), std::sync::Arc::new(two));
    // Each submit asks for 8 s of video; the budget holds 3 of them.
    let budget = Budget {
        limit_seconds: 24,
        period: Duration::from_secs(3600),
    };
    let attempts = (0..12).map(|n| {
        let j = if n % 2 == 0 { one.clone() } else { two.clone() };
        tokio::spawn(async move {
            j.begin_submit(submit(&format!("b-{n}")), WINDOW, false, Some(budget))
                .await
        })
    });
    let mut proceeded = 0;
    for attempt in attempts {
        match attempt.await.unwrap().unwrap() {
            Begin::Proceed(_) => proceeded += 1,
            Begin::OverBudget(spend) => assert!(spend.used_seconds <= 24),
            Begin::Duplicate(_) => panic!("distinct requests"),
        }
    }
    assert_eq!(proceeded, 3);
}

#[tokio::test]
async fn a_database_of_a_newer_veo_is_refused() {
    let Some((one, _, url)) = two_replicas().await else {
        return;
    };
    let c = one.pool.get().await.unwrap();
    c.execute("UPDATE veo_schema SET version = 999", &[])
        .await
        .unwrap();
    let refused = PostgresJournal::open(&url).await.unwrap_err();
    assert!(
        refused.message.contains("newer version of veo"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_without_the_password() {
    // A closed port on this machine: refused at once.
    let url = PostgresUrl::parse("postgres://veo:s3cret-pw@127.0.0.1:9/veo").unwrap();
    let error = PostgresJournal::open(&url).await.unwrap_err().to_string();
    assert!(error.contains("cannot connect to PostgreSQL"), "{error}");
    assert!(error.contains("127.0.0.1:9"), "{error}");
    assert!(!error.contains("s3cret-pw"), "{error}");
}

#[test]
fn the_password_never_shows() {
    for text in [
        "postgres://veo:s3cret-pw@db.internal:5432/veo",
        "postgresql://veo@db.internal/veo?password=s3cret-pw&sslmode=disable",
    ] {
        let location = JournalLocation::parse(text).unwrap();
        for shown in [location.to_string(), format!("{location:?}")] {
            assert!(!shown.contains("s3cret-pw"), "{shown}");
            assert!(shown.contains("db.internal"), "{shown}");
        }
    }
    let bad = JournalLocation::parse("postgres://veo:s3cret-pw@host:notaport/veo").unwrap_err();
    assert!(!bad.contains("s3cret-pw"), "{bad}");
}

#[tokio::test]
async fn tasks_older_than_the_horizon_are_not_followed() {
    let Some((one, _, _)) = two_replicas().await else {
        return;
    };
    for fingerprint in ["old", "new"] {
        let id = match one
            .begin_submit(submit(fingerprint), WINDOW, false, None)
            .await
            .unwrap()
        {
            Begin::Proceed(id) => id,
            other => panic!("{other:?}"),
        };
        one.record_submitted(id, fingerprint, None).await.unwrap();
    }
    let c = one.pool.get().await.unwrap();
    c.execute(
        "UPDATE veo_submits SET created_at = created_at - 8 * 86400000 WHERE task_id = 'old'",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(one.pending(true).await.unwrap(), vec!["new".to_string()]);
    let claimed = one
        .claim_pending("h", Duration::from_secs(60), true, 10)
        .await
        .unwrap();
    assert_eq!(claimed, vec!["new".to_string()]);
}
