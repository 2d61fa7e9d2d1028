"""Send identify/track/alias with the unchanged rudder-sdk-python client (gzip bodies)."""
import sys

import rudderstack.analytics as rudder

url, write_key, prefix = sys.argv[1:4]
errors = []
rudder.write_key = write_key
rudder.dataPlaneUrl = url
rudder.sync_mode = True
rudder.max_retries = 0
rudder.on_error = lambda error, items: errors.append(repr(error))

rudder.page(anonymous_id=f"{prefix}-anon", name="Home")
rudder.identify(f"{prefix}-user", {"email": f"{prefix}@example.com", "plan": "pro"}, anonymous_id=f"{prefix}-anon")
rudder.track(f"{prefix}-user", "Order Completed", {"revenue": 19.99})
rudder.alias(f"{prefix}-legacy", f"{prefix}-user")
for i in range(5):
    rudder.track(f"{prefix}-user", "Product Viewed", {"index": i})
rudder.flush()
if errors:
    sys.exit("rudder client errors: " + "; ".join(errors))
print("ok")
