"""Send identify/track/alias/batch with the unchanged segment-analytics-python client."""
import sys

import segment.analytics as analytics

url, write_key, prefix = sys.argv[1:4]
errors = []
analytics.write_key = write_key
analytics.host = url
analytics.sync_mode = True
analytics.max_retries = 0
analytics.on_error = lambda error, items: errors.append(repr(error))

analytics.page(anonymous_id=f"{prefix}-anon", name="Home")
analytics.identify(f"{prefix}-user", {"email": f"{prefix}@example.com", "plan": "pro"}, anonymous_id=f"{prefix}-anon")
analytics.track(f"{prefix}-user", "Order Completed", {"revenue": 19.99})
analytics.alias(f"{prefix}-legacy", f"{prefix}-user")
# Queued mode: several events leave in one /v1/batch request.
analytics.sync_mode = False
client = analytics.Client(write_key, host=url, max_retries=0, on_error=analytics.on_error)
for i in range(5):
    client.track(f"{prefix}-user", "Product Viewed", {"index": i})
client.flush()
client.shutdown()
if errors:
    sys.exit("segment client errors: " + "; ".join(errors))
print("ok")
