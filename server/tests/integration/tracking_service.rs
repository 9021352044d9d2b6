//! A tracked job's `mlflow-server` Service (`jobs::tracking::service`) on the local cluster,
//! launched by data scientists whose only permissions are the namespace's RoleBinding: the
//! Service is an alias of Gantry's, created once per namespace as the user; one Gantry did not
//! make is left alone and the launch refused; a user the cluster does not let create Services
//! gets the field's error and no Job.

use crate::common::cluster::{connect, TestCluster};
use crate::common::server::assert_contains;
use crate::jobs::{form, Gantry};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::Api;
use serde_json::{json, Value};

const HOST: &str = "gantry.gantry.svc.cluster.local";

/// Gantry with tracking and the Service's host set, and a data scientist `user` of the test's
/// namespace whose cluster permissions there are `role`'s (a ClusterRole or a Role).
async fn as_user(test: &TestCluster, user: &str, role: (&str, &str)) -> (Gantry, Vec<String>) {
    let gantry = Gantry::start_with(
        &test.namespace,
        &[
            ("GANTRY_TRACKING_URI", "http://gantry.test:3000"),
            ("GANTRY_MLFLOW_SERVICE_HOST", HOST),
        ],
    )
    .unwrap();
    let password = format!("{user} long password");
    gantry.server.create_account(
        &gantry.cookie,
        user,
        &password,
        "data-scientist",
        &test.namespace,
    );
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(user.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: role.0.into(),
            name: role.1.into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: format!("gantry:{user}"),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(test.client.clone(), &test.namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let cookie = gantry.server.login_as(user, &password);
    let headers = vec![cookie, gantry.origin.clone()];
    (gantry, headers)
}

fn launch(gantry: &Gantry, headers: &[String], form: &Value) -> crate::common::server::Response {
    gantry.server.request_json(
        "POST",
        "/api/v1/jobs",
        form,
        &[("Cookie", &headers[0]), ("Origin", &headers[1])],
    )
}

fn tracked(test: &TestCluster, name: &str, service: bool) -> Value {
    let mut form = form(test, name);
    form["tracking"] = json!(true);
    form["experiment"] = json!(format!("{}-experiment", test.namespace));
    form["tracking_service"] = json!(service);
    form
}

#[tokio::test]
async fn a_tracked_job_gives_its_namespace_an_mlflow_server_service_that_leads_to_gantry() {
    let Some(test) = connect("tracking-service").await else {
        return;
    };
    let (gantry, dana) = as_user(&test, "dana", ("ClusterRole", "gantry:data-scientist")).await;
    let services: Api<Service> = Api::namespaced(test.client.clone(), &test.namespace);

    let first = launch(&gantry, &dana, &tracked(&test, "first", true));
    assert_eq!(first.status, 201, "{}", first.body);
    let service = services.get("mlflow-server").await.unwrap();
    let spec = service.spec.clone().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ExternalName"));
    assert_eq!(spec.external_name.as_deref(), Some(HOST));
    assert_eq!(spec.ports.unwrap()[0].port, 5000);
    assert_eq!(
        service.metadata.owner_references, None,
        "the namespace's, not the first Job's: it stays for the jobs after it"
    );
    let audit = gantry
        .server
        .request("GET", "/admin/audit.csv", "", &[("Cookie", &gantry.cookie)]);
    let created = format!(
        "job.tracking_service,job/{ns}/first,\"service/{ns}/mlflow-server, an alias of {HOST}:5000\",ok",
        ns = test.namespace
    );
    assert_contains(&audit.body, &created);

    // A second job uses it as it is.
    let second = launch(&gantry, &dana, &tracked(&test, "second", true));
    assert_eq!(second.status, 201, "{}", second.body);
    let again = services.get("mlflow-server").await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        service.metadata.resource_version
    );
    let audit = gantry
        .server
        .request("GET", "/admin/audit.csv", "", &[("Cookie", &gantry.cookie)]);
    assert_contains(
        &audit.body,
        &format!(
            "job.tracking_service,job/{ns}/second,\"service/{ns}/mlflow-server, an alias of {HOST}:5000\",ok",
            ns = test.namespace
        ),
    );

    // One that Gantry did not make is left alone, and the launch refused with nothing made.
    services
        .delete("mlflow-server", &DeleteParams::default())
        .await
        .unwrap();
    let theirs = Service {
        metadata: ObjectMeta {
            name: Some("mlflow-server".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 5000,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let theirs = services
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let refused = launch(&gantry, &dana, &tracked(&test, "third", true));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_contains(&refused.body, "\"field\":\"tracking_service\"");
    assert_contains(&refused.body, "that Gantry did not create");
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    assert!(jobs.get_opt("third").await.unwrap().is_none());
    let kept = services.get("mlflow-server").await.unwrap();
    assert_eq!(
        kept.metadata.resource_version,
        theirs.metadata.resource_version
    );
}

#[tokio::test]
async fn a_user_the_cluster_does_not_let_create_services_gets_the_fields_error_and_no_job() {
    let Some(test) = connect("tracking-service-rbac").await else {
        return;
    };
    // All a tracked launch needs, and Services to read but not to create.
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    };
    let role = Role {
        metadata: ObjectMeta {
            name: Some("launcher".into()),
            ..Default::default()
        },
        rules: Some(vec![
            rule(
                "batch",
                &["jobs"],
                &["get", "list", "watch", "create", "delete"],
            ),
            rule("", &["secrets"], &["create"]),
            rule(
                "",
                &["services", "persistentvolumeclaims"],
                &["get", "list"],
            ),
        ]),
    };
    Api::<Role>::namespaced(test.client.clone(), &test.namespace)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let (gantry, erin) = as_user(&test, "erin", ("Role", "launcher")).await;

    let refused = launch(&gantry, &erin, &tracked(&test, "with-service", true));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_contains(&refused.body, "\"field\":\"tracking_service\"");
    assert_contains(&refused.body, "does not let you create Services");
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    assert!(jobs.get_opt("with-service").await.unwrap().is_none());
    let services: Api<Service> = Api::namespaced(test.client.clone(), &test.namespace);
    assert!(services.get_opt("mlflow-server").await.unwrap().is_none());

    // The same launch without the Service is within the role: only the Service was refused.
    let launched = launch(&gantry, &erin, &tracked(&test, "without", false));
    assert_eq!(launched.status, 201, "{}", launched.body);
}
