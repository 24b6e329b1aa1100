"""The Kubernetes pieces: the Helm chart helm/emqxd and the plain manifests deploy/k8s.

No helm binary exists here, so the chart is rendered by helm_render.py (this directory),
which stands in for `helm template` and fails on anything it does not support. Each
helm/emqxd/ci/<name>-values.yaml is rendered and compared with ci/golden/<name>.yaml
(EMQXD_UPDATE_GOLDEN=1 rewrites them); every object rendered, and every object of
`kubectl kustomize deploy/k8s`, is checked against the Kubernetes API schema as the models
of python3-kubernetes describe it (unknown fields, wrong types, missing required fields);
the ServiceMonitor, a CRD without a model, against a shape written here. Then what the
chart promises: a Parallel StatefulSet named by its headless Service, node names that are
the pods' DNS names, probes, the evacuating preStop hook, the data volume, Secret and
ConfigMap references that resolve, RBAC only for k8s discovery, only config keys emqxd
documents, and outputs that follow the values. With EMQXD_BIN pointing at an emqxd that
has `check-config`, that emqxd checks each rendered config with the pod's environment.
No cluster runs any of it here.
"""
import base64
import copy
import functools
import os
import re
import shutil
import subprocess

import kubernetes.client
import kubernetes.client.models as models
import pytest
import yaml

import helm_render
from deploy_support import REPO

CHART = os.path.join(REPO, "helm", "emqxd")
CI_DIR = os.path.join(CHART, "ci")
GOLDEN_DIR = os.path.join(CI_DIR, "golden")
K8S_DIR = os.path.join(REPO, "deploy", "k8s")
RELEASE, NAMESPACE = "emqxd", "mqtt"
CI_NAMES = sorted(f[:-len("-values.yaml")] for f in os.listdir(CI_DIR)
                  if f.endswith("-values.yaml"))
LABELS = ["app.kubernetes.io/" + k for k in ("name", "instance", "version", "component",
                                             "managed-by")]


# ---------------------------------------------------------------------------------------
# Rendering and looking things up.

def ci_values(name):
    return os.path.join(CI_DIR, name + "-values.yaml")


@functools.lru_cache(maxsize=None)
def render_ci(name):
    return helm_render.render_chart(CHART, [ci_values(name)], name=RELEASE, namespace=NAMESPACE)


def render(*sets, files=(), seed=0):
    """The chart with --set-like overrides (dicts or "a.b=c")."""
    return objects(helm_render.render_chart(CHART, files, sets, RELEASE, NAMESPACE, seed))


def objects(text):
    return [o for o in yaml.safe_load_all(text) if o]


def ci_objects(name):
    return objects(render_ci(name))


def ci_settings(name):
    """The values a ci file renders with (the chart's defaults merged with the file)."""
    return helm_render.values_for(CHART, [ci_values(name)])


def find(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, "%d %s objects named %s" % (len(found), kind, name)
    return found[0]


def kinds(objs):
    return sorted(o["kind"] for o in objs)


def statefulset(objs):
    return find(objs, "StatefulSet")


def container(objs):
    return statefulset(objs)["spec"]["template"]["spec"]["containers"][0]


def env(objs):
    return {e["name"]: e for e in container(objs)["env"]}


def headless_service(objs):
    return find(objs, "Service", statefulset(objs)["spec"]["serviceName"])


def conf_text(objs):
    return find(objs, "ConfigMap")["data"]["emqx.conf"]


# ---------------------------------------------------------------------------------------
# Goldens.

@pytest.mark.parametrize("name", CI_NAMES)
def test_render_matches_its_golden(name):
    path = os.path.join(GOLDEN_DIR, name + ".yaml")
    text = render_ci(name)
    if os.environ.get("EMQXD_UPDATE_GOLDEN") == "1":
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    assert os.path.exists(path), "no golden %s: run with EMQXD_UPDATE_GOLDEN=1" % path
    assert open(path).read() == text, \
        "%s differs from the render: review it, then EMQXD_UPDATE_GOLDEN=1" % path


def test_every_ci_file_has_a_golden_and_the_other_way_round():
    goldens = sorted(f[:-len(".yaml")] for f in os.listdir(GOLDEN_DIR))
    assert goldens == CI_NAMES
    assert {"default", "k8s-discovery", "no-persistence", "tls-loadbalancer"} <= set(CI_NAMES)


# ---------------------------------------------------------------------------------------
# The Kubernetes schema, as python3-kubernetes' models describe it.

# Each apiVersion and kind the chart and the manifests make. python3-kubernetes 22.6
# (Debian 12) describes Kubernetes 1.22, before autoscaling/v2 went GA (1.23) with the
# schema of v2beta2, whose model stands in for it.
MODELS = {
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler",
}
# Models check required fields when built; one configuration for all of them.
MODEL_CONFIG = kubernetes.client.Configuration()
MODEL_CONFIG.client_side_validation = True
PRIMITIVES = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
              "date": (str,), "datetime": (str,)}


def build(data, type_name, path):
    """data, as read from YAML, built into type_name's model: a field the model does not
    have, a value of the wrong type, or a missing required field fails, naming the path."""
    if type_name.startswith("list["):
        assert isinstance(data, list), "%s: expected a list, got %r" % (path, data)
        return [build(x, type_name[5:-1], "%s[%d]" % (path, i)) for i, x in enumerate(data)]
    if type_name.startswith("dict("):
        assert isinstance(data, dict), "%s: expected a map, got %r" % (path, data)
        inner = re.fullmatch(r"dict\(str, (.+)\)", type_name).group(1)
        return {k: build(v, inner, "%s.%s" % (path, k)) for k, v in data.items()}
    if type_name == "object":     # IntOrString, quantities in some places, raw extensions
        return data
    if type_name in PRIMITIVES:
        ok = isinstance(data, PRIMITIVES[type_name]) and \
            (type_name == "bool" or not isinstance(data, bool))
        assert ok, "%s: expected %s, got %r" % (path, type_name, data)
        return data
    cls = getattr(models, type_name)
    assert isinstance(data, dict), "%s: expected a %s object, got %r" % (path, type_name, data)
    fields = {json_name: py for py, json_name in cls.attribute_map.items()}
    unknown = sorted(set(data) - set(fields))
    assert not unknown, "%s: %s has no field %s" % (path, type_name, ", ".join(unknown))
    kwargs = {fields[k]: build(v, cls.openapi_types[fields[k]], "%s.%s" % (path, k))
              for k, v in data.items()}
    try:
        return cls(local_vars_configuration=MODEL_CONFIG, **kwargs)
    except ValueError as e:
        raise AssertionError("%s: %s" % (path, e))


DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# The Prometheus Operator's duration pattern (monitoring.coreos.com/v1).
DURATION = re.compile(r"0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")

# monitoring.coreos.com/v1 ServiceMonitor, which has no model: the fields the chart may
# write, from the operator's CRD. "!" marks required ones; a regex, a string matching it.
SERVICE_MONITOR = {
    "apiVersion!": str, "kind!": str,
    "metadata!": {"name!": str, "namespace": str, "labels": {str: str},
                  "annotations": {str: str}},
    "spec!": {
        "selector!": {"matchLabels": {str: str}},
        "namespaceSelector": {"matchNames": [str], "any": bool},
        "jobLabel": str,
        "endpoints!": [{"port": str, "path": str, "scheme": str, "interval": DURATION,
                        "scrapeTimeout": DURATION, "honorLabels": bool}],
    },
}


def check_shape(value, shape, path):
    if isinstance(shape, re.Pattern):
        assert isinstance(value, str) and shape.fullmatch(value), "%s: %r" % (path, value)
    elif isinstance(shape, type):
        assert isinstance(value, shape), "%s: expected %s, got %r" % (path, shape, value)
    elif isinstance(shape, list):
        assert isinstance(value, list), "%s: expected a list" % path
        for i, v in enumerate(value):
            check_shape(v, shape[0], "%s[%d]" % (path, i))
    elif list(shape) == [str]:
        assert isinstance(value, dict), "%s: expected a map" % path
        for k, v in value.items():
            check_shape(v, shape[str], "%s.%s" % (path, k))
    else:
        assert isinstance(value, dict), "%s: expected an object" % path
        fields = {k.rstrip("!"): v for k, v in shape.items()}
        missing = [k.rstrip("!") for k in shape if k.endswith("!") and k[:-1] not in value]
        assert not missing, "%s: missing %s" % (path, missing)
        unknown = sorted(set(value) - set(fields))
        assert not unknown, "%s: unknown fields %s" % (path, unknown)
        for k, v in value.items():
            check_shape(v, fields[k], "%s.%s" % (path, k))


def validate(obj):
    kind, name = obj.get("kind"), obj.get("metadata", {}).get("name")
    where = "%s %s" % (kind, name)
    assert name and len(name) <= 63 and DNS_LABEL.fullmatch(name), "%s: a bad name" % where
    for k, v in obj["metadata"].get("labels", {}).items():
        assert isinstance(v, str) and len(v) <= 63 and LABEL_VALUE.fullmatch(v), \
            "%s: label %s=%r" % (where, k, v)
    if (obj["apiVersion"], kind) == ("monitoring.coreos.com/v1", "ServiceMonitor"):
        check_shape(obj, SERVICE_MONITOR, where)
        return
    model = MODELS.get((obj["apiVersion"], kind))
    assert model, "%s: no model for %s %s: add it to MODELS" % (where, obj["apiVersion"], kind)
    build(obj, model, where)


@pytest.mark.parametrize("name", CI_NAMES)
def test_rendered_objects_match_the_kubernetes_schema(name):
    for obj in ci_objects(name):
        validate(obj)


def test_the_schema_check_fails_on_what_kubernetes_refuses():
    sts = statefulset(ci_objects("default"))
    for mutate, message in [
            (lambda s: s["spec"].update(podManagmentPolicy="Parallel"), "has no field"),
            (lambda s: s["spec"].update(replicas="3"), "expected int"),
            (lambda s: s["spec"].pop("selector"), "selector"),
            (lambda s: s["spec"]["template"]["spec"]["containers"][0].pop("name"), "name"),
            (lambda s: s["spec"]["template"]["spec"]["containers"][0]["env"][2]
             .update(value=5), "expected str")]:
        broken = copy.deepcopy(sts)
        mutate(broken)
        with pytest.raises(AssertionError, match=message):
            validate(broken)
    monitor = find(ci_objects("tls-loadbalancer"), "ServiceMonitor")
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["interval"] = "30 seconds"
    with pytest.raises(AssertionError, match="interval"):
        validate(broken)


# ---------------------------------------------------------------------------------------
# What the chart promises.

@pytest.mark.parametrize("name", CI_NAMES)
def test_a_parallel_statefulset_named_by_a_headless_service_that_lists_every_pod(name):
    objs = ci_objects(name)
    sts, svc = statefulset(objs), headless_service(objs)
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert {(p["name"], p["port"]) for p in svc["spec"]["ports"]} == \
        {("mqtt", 1883), ("rpc", 4370), ("dashboard", 18083)}


@pytest.mark.parametrize("name", CI_NAMES)
def test_node_names_are_the_pods_dns_names_that_discovery_finds(name):
    objs, settings = ci_objects(name), ci_settings(name)
    e = env(objs)
    headless = headless_service(objs)["metadata"]["name"]
    domain = settings["clusterDomain"]
    order = list(e)
    # $(VAR) is expanded only from variables defined before it.
    assert order.index("POD_NAME") < order.index("EMQX_NODE__NAME")
    assert order.index("POD_NAMESPACE") < order.index("EMQX_NODE__NAME")
    assert e["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert e["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert e["EMQX_NODE__NAME"]["value"] == \
        "emqxd@$(POD_NAME).%s.$(POD_NAMESPACE).svc.%s" % (headless, domain)
    pod = statefulset(objs)["metadata"]["name"] + "-0"
    node_host = "%s.%s.%s.svc.%s" % (pod, headless, NAMESPACE, domain)
    strategy = e["EMQX_CLUSTER__DISCOVERY_STRATEGY"]["value"]
    assert strategy == settings["cluster"]["discovery"]
    if strategy == "dns":
        # A headless Service's SRV targets are <pod>.<service>.<namespace>.svc.<domain>.
        dns_name = e["EMQX_CLUSTER__DNS__NAME"]["value"]
        assert dns_name == "%s.%s.svc.%s" % (headless, NAMESPACE, domain)
        assert "%s.%s" % (pod, dns_name) == node_host
        assert e["EMQX_CLUSTER__DNS__RECORD_TYPE"]["value"] == "srv"
        assert not [k for k in e if k.startswith("EMQX_CLUSTER__K8S__")]
    else:
        k8s = {k[len("EMQX_CLUSTER__K8S__"):]: v["value"] for k, v in e.items()
               if k.startswith("EMQX_CLUSTER__K8S__")}
        assert k8s == {"APISERVER": "https://kubernetes.default.svc:443",
                       "SERVICE_NAME": headless, "NAMESPACE": NAMESPACE,
                       "ADDRESS_TYPE": "hostname", "SUFFIX": "svc." + domain}
        # EMQX's hostname addresses: <hostname>.<service>.<namespace>.<suffix>.
        assert "%s.%s.%s.%s" % (pod, headless, NAMESPACE, k8s["SUFFIX"]) == node_host
        assert not [k for k in e if k.startswith("EMQX_CLUSTER__DNS__")]


@pytest.mark.parametrize("name", CI_NAMES)
def test_probes_ask_status_and_liveness_survives_an_evacuation(name):
    c = container(ci_objects(name))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["dashboard"] == 18083
    for probe in ("startupProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/status", "port": "dashboard"}, probe
    assert c["livenessProbe"]["tcpSocket"] == {"port": "dashboard"}
    assert "httpGet" not in c["livenessProbe"]
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


@pytest.mark.parametrize("name", CI_NAMES)
def test_prestop_evacuates_within_the_grace_period(name):
    objs, ev = ci_objects(name), ci_settings(name)["evacuation"]
    c = container(objs)
    assert c["lifecycle"]["preStop"]["exec"]["command"] == [
        "emqxd", "ctl", "-c", "/etc/emqxd/emqx.conf", "rebalance", "start", "--evacuation",
        "--wait-health-check", str(int(ev["waitHealthCheck"])),
        "--wait-takeover", str(int(ev["waitTakeover"])),
        "--conn-evict-rate", str(int(ev["connEvictRate"])),
        "--sess-evict-rate", str(int(ev["sessEvictRate"])), "--wait"]
    grace = statefulset(objs)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace == int(ev["waitHealthCheck"]) + int(ev["waitTakeover"]) + 60


@pytest.mark.parametrize("name", CI_NAMES)
def test_data_lives_on_the_volume_at_var_lib_emqxd(name):
    objs, persistence = ci_objects(name), ci_settings(name)["persistence"]
    sts = statefulset(objs)
    mounts = {m["mountPath"]: m for m in container(objs)["volumeMounts"]}
    assert mounts["/var/lib/emqxd"]["name"] == "data"
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    claims = sts["spec"].get("volumeClaimTemplates", [])
    if persistence["enabled"]:
        assert [c["metadata"]["name"] for c in claims] == ["data"]
        assert "data" not in volumes
        assert claims[0]["spec"]["resources"]["requests"]["storage"] == persistence["size"]
    else:
        assert not claims
        assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert 'data_dir = "/var/lib/emqxd/data"' in conf_text(objs)


@pytest.mark.parametrize("name", CI_NAMES)
def test_secret_and_config_references_resolve(name):
    objs, settings = ci_objects(name), ci_settings(name)
    refs = [(e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in env(objs).values() if "secretKeyRef" in e.get("valueFrom", {})]
    pod = statefulset(objs)["spec"]["template"]["spec"]
    for v in pod["volumes"]:
        if "secret" in v:
            refs += [(v["secret"]["secretName"], i["key"]) for i in v["secret"]["items"]]
    assert {"node.cookie", "dashboard.password"} <= {k for _, k in refs}
    secrets = [o for o in objs if o["kind"] == "Secret"]
    if settings["existingSecret"]:
        assert not secrets
        assert {n for n, _ in refs} == {settings["existingSecret"]}
    else:
        data = find(objs, "Secret")["data"]
        for secret_name, key in refs:
            assert secret_name == secrets[0]["metadata"]["name"] and key in data, key
    config = [v for v in pod["volumes"] if "configMap" in v]
    assert [v["configMap"]["name"] for v in config] == [find(objs, "ConfigMap")["metadata"]["name"]]
    mount = [m for m in container(objs)["volumeMounts"] if m["name"] == config[0]["name"]]
    assert mount == [{"name": "config", "mountPath": "/etc/emqxd/emqx.conf",
                      "subPath": "emqx.conf", "readOnly": True}]


def test_generated_secrets_are_random_per_seed_and_given_ones_kept():
    def secret(*sets, seed=0):
        data = find(render(*sets, seed=seed), "Secret")["data"]
        return {k: base64.b64decode(v).decode() for k, v in data.items()}
    generated = secret()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", generated["node.cookie"])
    assert re.fullmatch(r"[A-Za-z0-9]{24}", generated["dashboard.password"])
    assert secret(seed=1)["node.cookie"] != generated["node.cookie"]
    given = secret("cookie=a-cookie", "dashboard.password=a-password")
    assert given == {"node.cookie": "a-cookie", "dashboard.password": "a-password"}


@pytest.mark.parametrize("name", CI_NAMES)
def test_rbac_only_with_k8s_discovery(name):
    objs = ci_objects(name)
    pod = statefulset(objs)["spec"]["template"]["spec"]
    rbac = [o for o in objs if o["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    if ci_settings(name)["cluster"]["discovery"] != "k8s":
        assert not rbac
        assert pod["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in pod
        return
    account, role, binding = (find(objs, k) for k in ("ServiceAccount", "Role", "RoleBinding"))
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is True
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["get", "list", "watch"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": NAMESPACE}]


@pytest.mark.parametrize("name", CI_NAMES)
def test_runs_as_the_image_user_without_privileges(name):
    objs = ci_objects(name)
    pod = statefulset(objs)["spec"]["template"]["spec"]
    assert {k: pod["securityContext"][k] for k in
            ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup")} == \
        {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999}
    sc = container(objs)["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                  "capabilities": {"drop": ["ALL"]}}
    # The rest of the "restricted" Pod Security Standard: a seccomp profile, and only
    # volume types it allows.
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for v in pod["volumes"]:
        assert set(v) - {"name"} <= {"configMap", "secret", "emptyDir",
                                     "persistentVolumeClaim"}, v
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    # The root file system is read-only: every mount but the data volume is too.
    for m in container(objs)["volumeMounts"]:
        assert m.get("readOnly") or m["mountPath"] == "/var/lib/emqxd", m


@pytest.mark.parametrize("name", CI_NAMES)
def test_services_and_tls_follow_the_values(name):
    objs, settings = ci_objects(name), ci_settings(name)
    tls = settings["tls"]["enabled"]
    ports = {p["name"]: p["containerPort"] for p in container(objs)["ports"]}
    for svc in (o for o in objs if o["kind"] == "Service"):
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports and ports[p["targetPort"]] == p["port"], p
    client = find(objs, "Service", statefulset(objs)["metadata"]["name"])
    assert client["spec"]["type"] == settings["service"]["type"]
    expected = ["mqtt"] + (["mqtts"] if tls else []) + ["ws"] + (["wss"] if tls else []) + \
        (["dashboard"] if settings["service"]["dashboard"] else [])
    assert [p["name"] for p in client["spec"]["ports"]] == expected
    for p in client["spec"]["ports"]:
        node_port = settings["service"]["nodePorts"][p["name"]]
        fixed = node_port and settings["service"]["type"] != "ClusterIP"
        assert p.get("nodePort") == (int(node_port) if fixed else None)
    conf = conf_text(objs)
    assert ("listeners.ssl.default" in conf) == tls and ("listeners.wss.default" in conf) == tls
    mounts = [m["mountPath"] for m in container(objs)["volumeMounts"]]
    assert ("/etc/emqxd/certs" in mounts) == tls
    if tls:
        for f in ("tls.crt", "tls.key", "ca.crt"):
            assert conf.count('"/etc/emqxd/certs/%s"' % f) == 2, f


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_object_carries_the_recommended_labels(name):
    objs, settings = ci_objects(name), ci_settings(name)
    version = settings["image"]["tag"] or yaml.safe_load(
        open(os.path.join(CHART, "Chart.yaml")))["appVersion"]
    for obj in objs:
        labels = obj["metadata"]["labels"]
        assert set(LABELS) <= set(labels), obj["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == version
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
    sts = statefulset(objs)
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert {k: pod_labels[k] for k in LABELS} == sts["metadata"]["labels"]


def test_autoscaling_and_servicemonitor_only_when_enabled():
    for name in CI_NAMES:
        objs, settings = ci_objects(name), ci_settings(name)
        hpa = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
        assert bool(hpa) == settings["autoscaling"]["enabled"]
        # The HPA owns the count: a replicas field would undo its work on every upgrade.
        assert ("replicas" in statefulset(objs)["spec"]) == (not hpa)
        monitors = [o for o in objs if o["kind"] == "ServiceMonitor"]
        assert bool(monitors) == settings["metrics"]["serviceMonitor"]["enabled"]
    objs = ci_objects("tls-loadbalancer")
    hpa = find(objs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                             "name": statefulset(objs)["metadata"]["name"]}
    pods_metric = [m["pods"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods_metric == [{"metric": {"name": "emqx_connections_count"},
                            "target": {"type": "AverageValue", "averageValue": "40000"}}]
    monitor = find(objs, "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("dashboard", "/api/v5/prometheus/stats")
    # It selects the headless Service alone: each pod scraped once, ready or not.
    selected = [o for o in objs if o["kind"] == "Service" and
                monitor["spec"]["selector"]["matchLabels"].items() <=
                o["metadata"]["labels"].items()]
    assert selected == [headless_service(objs)]


# ---------------------------------------------------------------------------------------
# Only keys emqxd knows: it stops at start-up on any other.

def conf_keys(text, where, commented_defaults=False):
    """The dotted keys of HOCON as the chart and deploy/emqx.conf write it: `a.b = v`,
    `a {`, `}`, `#` comments; with commented_defaults a `# key = default` line counts too
    (emqx.conf's way of showing a key left at its default)."""
    keys, prefix = set(), []
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if commented_defaults and s.startswith("# "):
            s = re.sub(r"\s+#.*$", "", s[2:].strip())
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        if s == "}":
            prefix.pop()
        elif re.fullmatch(r"[A-Za-z0-9_.]+\s*\{", s):
            prefix.append(s[:-1].strip())
        elif re.fullmatch(r"[A-Za-z0-9_.]+\s*[=:]\s*\S.*", s):
            keys.add(".".join(prefix + [re.split(r"\s*[=:]", s, 1)[0]]))
        else:
            raise AssertionError("%s:%d: cannot read %r" % (where, n, raw))
    assert not prefix, "%s: unclosed %s" % (where, prefix)
    return keys


@functools.lru_cache(maxsize=None)
def documented_keys():
    return frozenset(conf_keys(open(os.path.join(REPO, "deploy", "emqx.conf")).read(),
                               "deploy/emqx.conf", commented_defaults=True))


def env_key(name):
    return name[len("EMQX_"):].lower().replace("__", ".")


@pytest.mark.parametrize("name", CI_NAMES)
def test_config_and_environment_use_only_keys_emqxd_documents(name):
    objs = ci_objects(name)
    keys = conf_keys(conf_text(objs), "emqx.conf of " + name)
    keys |= {env_key(k) for k in env(objs) if k.startswith("EMQX_")}
    unknown = sorted(keys - documented_keys())
    assert not unknown, "keys deploy/emqx.conf does not document: %s" % unknown
    assert "EMQX_NODE_NAME" not in env(objs) and "EMQX_NODE_COOKIE" not in env(objs)


def test_emqx_config_map_becomes_hocon():
    objs = render({"emqxConfig": {"mqtt": {"max_inflight": 64, "max_packet_size": "2MB"},
                                  "alarm": {"actions": ["log"]},
                                  "log": {"console": {"level": "warning"}}},
                   "config": "flapping_detect.enable = true\n"})
    conf = conf_text(objs)
    assert conf.endswith('log.console.enable = true\n'
                         'alarm {\n  actions = ["log"]\n}\n'
                         'log {\n  console {\n    level = "warning"\n  }\n}\n'
                         'mqtt {\n  max_inflight = 64\n  max_packet_size = "2MB"\n}\n'
                         'flapping_detect.enable = true\n')


# ---------------------------------------------------------------------------------------
# Outputs follow the values (so that the checks above can fail).

def pod_spec(objs):
    return statefulset(objs)["spec"]["template"]["spec"]


CHANGES = [
    ("replicaCount=5", lambda o: statefulset(o)["spec"]["replicas"] == 5),
    ("clusterDomain=k8s.example.org",
     lambda o: env(o)["EMQX_NODE__NAME"]["value"].endswith(".svc.k8s.example.org") and
     env(o)["EMQX_CLUSTER__DNS__NAME"]["value"].endswith(".svc.k8s.example.org")),
    ("evacuation.waitTakeover=45",
     lambda o: "45" in container(o)["lifecycle"]["preStop"]["exec"]["command"] and
     pod_spec(o)["terminationGracePeriodSeconds"] == 115),
    ("terminationGracePeriodSeconds=600",
     lambda o: pod_spec(o)["terminationGracePeriodSeconds"] == 600),
    ("persistence.size=20Gi", lambda o: statefulset(o)["spec"]["volumeClaimTemplates"][0]
     ["spec"]["resources"]["requests"]["storage"] == "20Gi"),
    ("persistence.storageClass=-", lambda o: statefulset(o)["spec"]["volumeClaimTemplates"][0]
     ["spec"].get("storageClassName") == ""),
    ("image.tag=9.9.9", lambda o: container(o)["image"] == "emqxd:9.9.9"),
    ("cluster.discovery=k8s", lambda o: "Role" in kinds(o)),
    ("podAntiAffinity=hard", lambda o: "requiredDuringSchedulingIgnoredDuringExecution" in
     pod_spec(o)["affinity"]["podAntiAffinity"]),
    ("podAntiAffinity=", lambda o: "affinity" not in pod_spec(o)),
    ("service.type=NodePort", lambda o: find(o, "Service", "emqxd")["spec"]["type"] == "NodePort"),
    ("podDisruptionBudget.enabled=false", lambda o: "PodDisruptionBudget" not in kinds(o)),
    ("ioThreads=8", lambda o: "io_threads = 8" in conf_text(o)),
    ("emqxConfig.mqtt.max_inflight=64", lambda o: "max_inflight = 64" in conf_text(o)),
    ("fullnameOverride=broker", lambda o: statefulset(o)["spec"]["serviceName"] ==
     "broker-headless"),
]


@pytest.mark.parametrize("change,holds", CHANGES, ids=[c for c, _ in CHANGES])
def test_a_value_changes_the_output(change, holds):
    default = render()
    changed = render(change)
    assert changed != default
    assert holds(changed) and not holds(default)


def test_a_new_config_rolls_the_pods():
    def checksum(objs):
        return statefulset(objs)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert checksum(render("emqxConfig.mqtt.max_inflight=64")) != checksum(render())
    assert checksum(render("replicaCount=5")) == checksum(render())


@pytest.mark.parametrize("sets,message", [
    (["cluster.discovery=etcd"], "cluster.discovery must be dns or k8s"),
    (["service.type=Ingress"], "service.type must be"),
    (["podAntiAffinity=sometimes"], "podAntiAffinity must be"),
    (["tls.enabled=true"], "tls.cert"),
    (["autoscaling.enabled=true", "autoscaling.targetCPUUtilizationPercentage=null"],
     "autoscaling needs"),
])
def test_bad_values_stop_the_render(sets, message):
    with pytest.raises(helm_render.TemplateError, match=message):
        render(*sets)


def test_the_chart_needs_kubernetes_1_23():
    # autoscaling/v2 is there from 1.23 on.
    values = helm_render.values_for(CHART)
    with pytest.raises(helm_render.TemplateError, match="requires kubeVersion"):
        helm_render.Renderer(CHART, values, RELEASE, NAMESPACE, kube_version="v1.22.9")
    helm_render.Renderer(CHART, values, RELEASE, NAMESPACE, kube_version="v1.23.0")


@pytest.mark.parametrize("name", CI_NAMES)
def test_notes_tell_how_to_reach_the_cluster(name):
    r = helm_render.Renderer(CHART, ci_settings(name), RELEASE, NAMESPACE)
    notes = r.notes()
    fullname = statefulset(ci_objects(name))["metadata"]["name"]
    assert "port-forward service/%s 18083:18083" % fullname in notes
    assert "exec %s-0 -- emqxd cluster" % fullname in notes
    secret = ci_settings(name)["existingSecret"] or fullname
    assert "get secret %s " % secret in notes


# ---------------------------------------------------------------------------------------
# deploy/k8s: kubectl kustomize's output, valid and the same as the chart's defaults.

@functools.lru_cache(maxsize=None)
def kustomized():
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (scripts/install-deps.sh --test installs it)"
    p = subprocess.run([kubectl, "kustomize", K8S_DIR], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return objects(p.stdout)


def test_kustomize_output_matches_the_kubernetes_schema():
    objs = kustomized()
    for obj in objs:
        validate(obj)
        assert "namespace" not in obj["metadata"], "namespace-agnostic: %s" % obj["kind"]
    assert kinds(objs) == ["ConfigMap", "PodDisruptionBudget", "Service", "Service",
                           "StatefulSet"]


def comparable(objs, config_names):
    """Objects with what may differ between Helm and kustomize taken out: who manages
    them, the pods' annotations (kustomize rolls them by the ConfigMap's hashed name, the
    chart by a checksum), that name, and the namespace the chart knows and the manifests
    take from the pod."""
    out = {}
    for obj in copy.deepcopy(objs):
        obj["metadata"]["labels"].pop("app.kubernetes.io/managed-by", None)
        if obj["kind"] == "ConfigMap":
            out[("ConfigMap", "emqxd")] = obj["data"]
            continue
        if obj["kind"] == "StatefulSet":
            template = obj["spec"]["template"]
            template["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
            template["metadata"].pop("annotations", None)
            for v in template["spec"]["volumes"]:
                if "configMap" in v:
                    v["configMap"]["name"] = config_names.get(v["configMap"]["name"], "emqxd")
            for e in template["spec"]["containers"][0]["env"]:
                if "value" in e:
                    e["value"] = e["value"].replace(".%s.svc." % NAMESPACE,
                                                    ".$(POD_NAMESPACE).svc.")
        out[(obj["kind"], obj["metadata"]["name"])] = obj
    return out


def test_kustomize_makes_what_the_chart_makes_by_default():
    chart = [o for o in render() if o["kind"] != "Secret"]   # the Secret is the user's
    plain = kustomized()
    config_names = {o["metadata"]["name"]: "emqxd" for o in plain if o["kind"] == "ConfigMap"}
    a, b = comparable(chart, {}), comparable(plain, config_names)
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key] == b[key], key
    assert open(os.path.join(K8S_DIR, "emqx.conf")).read() == conf_text(render())
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in env(plain).values()
                   if "secretKeyRef" in e.get("valueFrom", {})}
    assert secret_refs == {"emqxd"}
    assert "create secret generic emqxd" in open(os.path.join(K8S_DIR, "kustomization.yaml")).read()


# ---------------------------------------------------------------------------------------
# emqxd itself reads each rendered config, with the pod's environment.

TEST_SECRET = {"node.cookie": "test-cookie-0123456789abcdef", "dashboard.password": "test-pw"}


def emqxd_with_check_config():
    binary = os.environ.get("EMQXD_BIN", "")
    if not os.path.isfile(binary):
        pytest.skip("EMQXD_BIN names no emqxd binary (%r): the rendered configs are not "
                    "checked by emqxd" % binary)
    p = subprocess.run([binary, "check-config", "--help"], capture_output=True, timeout=30)
    if p.returncode != 0:
        pytest.skip("%s has no check-config subcommand (`check-config --help` exited %d): "
                    "the rendered configs are not checked by emqxd" % (binary, p.returncode))
    return binary


def pod_environment(objs, secret):
    """The container's variables as the kubelet sets them: fieldRefs of pod 0, secret
    keys, and $(VAR) expanded from the variables before."""
    fields = {"metadata.name": statefulset(objs)["metadata"]["name"] + "-0",
              "metadata.namespace": NAMESPACE}
    out = {}
    for e in container(objs)["env"]:
        source = e.get("valueFrom", {})
        if "fieldRef" in source:
            value = fields[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            value = secret[source["secretKeyRef"]["key"]]
        else:
            value = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group()), e["value"])
        out[e["name"]] = value
    return out


@pytest.mark.parametrize("name", CI_NAMES)
def test_emqxd_accepts_the_rendered_config(name, tmp_path):
    binary = emqxd_with_check_config()
    objs = ci_objects(name)
    secrets = [o for o in objs if o["kind"] == "Secret"]
    secret = {k: base64.b64decode(v).decode() for k, v in secrets[0]["data"].items()} \
        if secrets else TEST_SECRET
    certs = tmp_path / "certs"
    certs.mkdir()
    for f in ("tls.crt", "tls.key", "ca.crt"):
        if f in secret:
            (certs / f).write_text(secret[f])
    # The pod's paths, moved under tmp_path: this machine has no /etc/emqxd/certs.
    conf = conf_text(objs).replace("/etc/emqxd/certs/", str(certs) + "/") \
        .replace("/var/lib/emqxd", str(tmp_path / "data"))
    (tmp_path / "emqx.conf").write_text(conf)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    environment.update(pod_environment(objs, secret))
    p = subprocess.run([binary, "check-config", "-c", str(tmp_path / "emqx.conf")],
                       capture_output=True, text=True, timeout=60, env=environment,
                       cwd=str(tmp_path))
    assert p.returncode == 0, "emqxd check-config refused %s:\n%s%s" % (name, p.stdout,
                                                                        p.stderr)


# ---------------------------------------------------------------------------------------
# The renderer itself: Helm's semantics, and loud failures.

def render_snippet(tmp_path, template, values=None, **kw):
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: t\nversion: 1.0.0\n"
                                         "appVersion: \"2.0\"\n")
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values or {}))
    (tmp_path / "templates" / "t.yaml").write_text(template)
    r = helm_render.Renderer(str(tmp_path), helm_render.values_for(str(tmp_path)), **kw)
    return r.render_file("t/templates/t.yaml")


def test_renderer_trims_ranges_and_scopes_as_go_does(tmp_path):
    out = render_snippet(tmp_path, """a:
  {{- range $k, $v := .Values.m }}
  {{ $k }}: {{ $v }}
  {{- end }}
{{- $x := "outer" }}
{{- if true }}{{ $x = "set" }}{{ $y := "inner" }}{{ end }}
b: {{ $x }} {{ .Values.missing }}|{{ .Chart.AppVersion }}|{{ .Release.Name }}
""", {"m": {"z": 1, "a": 1}}, release_name="r")
    assert out == "a:\n  a: 1\n  z: 1\nb: set |2.0|r\n"


def test_renderer_keeps_helm_number_and_truth_rules(tmp_path):
    out = render_snippet(tmp_path, '{{ .Values.n }} {{ .Values.n | int }} '
                         '{{ if .Values.zero }}t{{ else }}f{{ end }} {{ toJson .Values.l }}',
                         {"n": 1000000, "zero": 0, "l": [1, "a"]})
    assert out == '1e+06 1000000 f [1,"a"]'
    with pytest.raises(helm_render.TemplateError, match="incompatible types"):
        render_snippet(tmp_path, "{{ eq .Values.n 1 }}", {"n": 1})


def test_renderer_fails_loudly_naming_template_and_line(tmp_path):
    for template, message in [
            ("x\n{{ frobnicate 1 }}", r"t/templates/t.yaml:2: function \"frobnicate\""),
            ("{{ .Values.a.b }}", r"t.yaml:1: nil pointer evaluating"),
            ("{{ .Values }}", "a map printed as text"),
            ("{{ if true }}", "has no end"),
            ("{{ block \"x\" . }}{{ end }}", "not supported"),
            ("{{ with .Values }}{{ else with .Values }}{{ end }}", "else with"),
            ("{{ printf \"%5s\" \"a\" }}", "not supported"),
            ("{{ include \"nope\" . }}", 'no template "nope"'),
            ("{{ .Values.n | b64enc }}", "expected string; got float64"),
            ("{{ /* a comment after a space */ }}", "a comment must fill its action"),
            ("{{ .Values.missing | trunc 3 }}", "expected string; got invalid")]:
        with pytest.raises(helm_render.TemplateError, match=message):
            render_snippet(tmp_path, template, {"n": 1})


def test_renderer_merges_values_as_helm_does():
    base = {"a": {"b": 1.0, "c": 2.0}, "d": [1.0]}
    assert helm_render.merge(base, {"a": {"b": None, "e": 3}, "d": [2]}) == \
        {"a": {"c": 2.0, "e": 3}, "d": [2]}
    assert helm_render.parse_set("a.b=true") == {"a": {"b": True}}
    assert helm_render.parse_set("a=12") == {"a": 12}
    with pytest.raises(helm_render.TemplateError):
        helm_render.parse_set("a={1,2}")
