"""Reads KServe's webhook configurations (config/webhook/manifests.yaml, as the JSON
objects `kubectl create --dry-run=client -o json` prints one after another) on stdin and prints them cut down to the
InferenceService's defaulter and validator, each calling URL + its path with the cluster's
CA bundle instead of a Service: the manager runs as a host process, which no Service can
reach. With failurePolicy Fail, a registered path the manager does not serve would break
every matching create, so nothing else is kept.

    ... | python3 webhooks.py URL CA_BUNDLE_BASE64
"""

import json
import sys

KEPT = ("/mutate-serving-kserve-io-v1beta1-inferenceservice",
        "/validate-serving-kserve-io-v1beta1-inferenceservice")


def main(url, ca_bundle):
    text, decoder, at, items = sys.stdin.read(), json.JSONDecoder(), 0, []
    while text[at:].strip():
        item, end = decoder.raw_decode(text[at:].lstrip())
        at = len(text) - len(text[at:].lstrip()) + end
        items.append(item)
    out = []
    for item in items:
        kept = []
        for hook in item.get("webhooks") or []:
            path = hook["clientConfig"].get("service", {}).get("path", "")
            if path in KEPT:
                hook["clientConfig"] = {"url": url + path, "caBundle": ca_bundle}
                kept.append(hook)
        if kept:
            item["webhooks"] = kept
            out.append(item)
    if sum(len(i["webhooks"]) for i in out) != len(KEPT):
        sys.exit(f"webhooks: expected exactly {KEPT} in KServe's manifests")
    json.dump({"apiVersion": "v1", "kind": "List", "items": out}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
