//! Two replicas on one database and one leader Lease, on the real local cluster: the leader
//! is killed (SIGKILL) while jobs change state; the other takes the Lease over within 15 s
//! and the history ends with one row per job, each with how it ended; the dead replica's
//! session and live stream carry on at the survivor.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::cluster::{connect, wait_for};
use crate::common::fixtures::IMAGE;
use crate::common::server::TestServer;

const JOBS: usize = 6;

/// The one number `query` returns. (The test's own pool: `TestDb` blocks, which an async
/// test must not.)
async fn count(db: &sqlx::AnyPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(db).await.unwrap()
}

fn leads(server: &TestServer) -> bool {
    server.get("/readyz").json()["leader"] == true
}

#[tokio::test]
async fn the_other_replica_takes_over_within_15_s_and_no_history_is_lost_or_doubled() {
    let Some(test) = connect("failover").await else {
        return;
    };
    let ns = test.namespace.clone();
    // A Lease of this test's own, in Gantry's namespace where its Role allows leases.
    let lease = format!("gantry/{ns}");
    let (first, cookie) =
        TestServer::on_cluster_with("failover", &[("GANTRY_LEADER_LEASE", &lease)]).unwrap();
    let (second, _) = TestServer::on_cluster_with(
        "failover",
        &[
            ("GANTRY_LEADER_LEASE", &lease),
            ("GANTRY_DATABASE_URL", &first.database_url),
        ],
    )
    .unwrap();
    let started = Instant::now();
    let mut replicas = [first, second];
    let leader = loop {
        match replicas.iter().position(leads) {
            Some(leader) => break leader,
            None => assert!(
                started.elapsed() < Duration::from_secs(15),
                "no leader in 15 s"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!leads(&replicas[1 - leader]), "two leaders");
    let metrics = replicas[1 - leader].get("/metrics").body;
    assert!(metrics.contains("gantry_leader 0\n"), "{metrics}");
    let elected = started.elapsed();

    // Jobs that finish one after another across the takeover; half are deleted by their
    // TTL as soon as they finish, so only the watch (or the events) can tell their end.
    let jobs = kube::Api::<k8s_openapi::api::batch::v1::Job>::namespaced(test.client.clone(), &ns);
    for i in 0..JOBS {
        let job = serde_json::from_value(json!({
            "metadata": { "name": format!("step-{i}") },
            "spec": {
                "ttlSecondsAfterFinished": if i % 2 == 0 { Some(0) } else { None },
                "template": {
                    "metadata": { "annotations": {
                        "pod-complete.stage.kwok.x-k8s.io/delay": format!("{}s", 2 + 3 * i)
                    }},
                    "spec": {
                        "restartPolicy": "Never",
                        // Off the H100s, whose idle GPUs the node charts' test counts.
                        "nodeSelector": { "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB" },
                        "containers": [{
                            "name": "main", "image": IMAGE,
                            "resources": { "limits": { "nvidia.com/gpu": "1" } }
                        }]
                    }
                }
            }
        }))
        .unwrap();
        jobs.create(&kube::api::PostParams::default(), &job)
            .await
            .unwrap();
    }
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&replicas[0].database_url)
        .await
        .unwrap();
    let rows = format!("SELECT COUNT(*) FROM jobs WHERE namespace = '{ns}'");
    wait_for(
        "the leader to record the jobs",
        Duration::from_secs(30),
        || async { (count(&db, &rows).await == JOBS as i64).then_some(()) },
    )
    .await;

    // The first jobs have ended, the others are still to end.
    tokio::time::sleep(Duration::from_secs(4)).await;
    replicas[leader].kill();
    let killed = Instant::now();
    let survivor = &replicas[1 - leader];
    wait_for("the survivor to lead", Duration::from_secs(15), || async {
        leads(survivor).then_some(())
    })
    .await;
    let takeover = killed.elapsed();

    let ended = format!(
        "SELECT COUNT(*) FROM jobs WHERE namespace = '{ns}' AND status = 'Succeeded' \
         AND COALESCE(finished_at, deleted_at) IS NOT NULL"
    );
    wait_for(
        "every job's end in the history",
        Duration::from_secs(60),
        || async { (count(&db, &ended).await == JOBS as i64).then_some(()) },
    )
    .await;
    assert_eq!(count(&db, &rows).await, JOBS as i64, "a job recorded twice");
    let names: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT name FROM jobs WHERE namespace = '{ns}' ORDER BY name"
    ))
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        names,
        (0..JOBS).map(|i| format!("step-{i}")).collect::<Vec<_>>()
    );

    // The dead replica's session is good at the survivor, and its job stream answers there,
    // as a browser's EventSource reconnecting through the Service finds it.
    let mut stream = survivor.events(&format!("/api/v1/jobs/stream?namespace={ns}"), &cookie);
    let first_event = stream.next();
    assert!(first_event.to_string().contains("step-5"), "{first_event}");
    db.close().await;
    println!(
        "\n| failover | seconds |\n|---|---|\n| first leader elected after start | {:.1} |\n\
         | SIGKILL of the leader → the survivor leads | {:.1} |",
        elected.as_secs_f64(),
        takeover.as_secs_f64()
    );
}
