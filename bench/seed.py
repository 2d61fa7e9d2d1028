"""Seeds a fresh `allele serve` for the decision benchmarks: 10,000
customers (ages, countries, tiers), half of them with marketing consent on
email, and the demo's policy.

  seed.py WRITE_KEY ADMIN_KEY PORT
"""
import base64, json, sys, urllib.request

wk, ak, port = sys.argv[1:4]


def call(method, path, body, auth, ctype="application/json"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}" + path, data=body.encode(), method=method,
                                 headers={"Authorization": auth, "Content-Type": ctype})
    return urllib.request.urlopen(req).read()


basic = "Basic " + base64.b64encode((wk + ":").encode()).decode()
for start in range(0, 10000, 500):
    batch = [{"type": "identify", "userId": f"user-{i}", "traits": {"age": 18 + i % 60, "country": ["GB", "US", "IE", "FR"][i % 4], "tier": ["bronze", "silver", "gold"][i % 3]}} for i in range(start, start + 500)]
    call("POST", "/v1/batch", json.dumps({"batch": batch}), basic)
for i in range(0, 10000, 2):
    call("PUT", f"/v1/profiles/user_id:user-{i}/consent", json.dumps({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}), "Bearer " + ak)
policy = open("crates/allele/src/demo_story.rs").read().split('const POLICY: &str = r#"')[1].split('"#;')[0]
call("PUT", "/v1/policies", policy, "Bearer " + ak, "application/yaml")
