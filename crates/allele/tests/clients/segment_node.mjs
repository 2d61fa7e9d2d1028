// Send identify/track/alias with the unchanged @segment/analytics-node client.
import { Analytics } from '@segment/analytics-node'

const [url, writeKey, prefix] = process.argv.slice(2)
const errors = []
const analytics = new Analytics({ writeKey, host: url, maxRetries: 0, flushAt: 10, flushInterval: 100 })
analytics.on('error', (err) => errors.push(String(err && (err.reason || err.message || err.code || err))))

analytics.page({ anonymousId: `${prefix}-anon`, name: 'Home' })
analytics.identify({ userId: `${prefix}-user`, anonymousId: `${prefix}-anon`, traits: { email: `${prefix}@example.com`, plan: 'pro' } })
analytics.track({ userId: `${prefix}-user`, event: 'Order Completed', properties: { revenue: 19.99 } })
analytics.alias({ previousId: `${prefix}-legacy`, userId: `${prefix}-user` })
for (let i = 0; i < 5; i++) {
  analytics.track({ userId: `${prefix}-user`, event: 'Product Viewed', properties: { index: i } })
}
await analytics.closeAndFlush({ timeout: 10000 })
if (errors.length) {
  console.error('segment node client errors: ' + errors.join('; '))
  process.exit(1)
}
console.log('ok')
