// Drives Paved's catalog API with Backstage's own client, unchanged, and prints what it got as JSON.
// Env: PAVED_BASE_URL (e.g. http://127.0.0.1:8000), PAVED_TOKEN (an API token), PAVED_LOCATION_TARGET (a file to register).
import { CatalogClient } from '@backstage/catalog-client';

const base = process.env.PAVED_BASE_URL;
const token = process.env.PAVED_TOKEN;
const discoveryApi = { getBaseUrl: async () => `${base}/api/catalog` };
const fetchApi = {
  fetch: (url, init = {}) =>
    fetch(url, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } }),
};
const client = new CatalogClient({ discoveryApi, fetchApi });
const names = items => items.map(e => e.metadata.name).sort();

const summary = {};
summary.services = names(
  (await client.getEntities({ filter: { kind: 'component', 'spec.type': 'service' }, fields: ['metadata.name'] })).items,
);
summary.apisOrUsers = names((await client.getEntities({ filter: [{ kind: 'API' }, { kind: 'user' }] })).items);
summary.ordered = (await client.getEntities({ filter: { kind: 'component' }, order: { field: 'metadata.name', order: 'desc' } })).items.map(
  e => e.metadata.name,
);
const billing = await client.getEntityByRef('component:default/billing');
summary.byRef = { name: billing?.metadata.name, relations: billing?.relations?.map(r => `${r.type} ${r.targetRef}`).sort() };
summary.missing = (await client.getEntityByRef('component:default/does-not-exist')) === undefined;

let page = await client.queryEntities({ limit: 2, orderFields: { field: 'metadata.name', order: 'asc' }, fields: ['metadata.name'] });
summary.totalItems = page.totalItems;
const queried = page.items.map(e => e.metadata.name);
let pages = 1;
while (page.pageInfo.nextCursor) {
  page = await client.queryEntities({ cursor: page.pageInfo.nextCursor, limit: 2, fields: ['metadata.name'] });
  queried.push(...page.items.map(e => e.metadata.name));
  pages += 1;
}
summary.queried = queried;
summary.pages = pages;
summary.fullText = names(
  (await client.queryEntities({ fullTextFilter: { term: 'petstore', fields: ['metadata.name', 'metadata.title'] } })).items,
);

summary.byRefs = (
  await client.getEntitiesByRefs({ entityRefs: ['component:default/payments', 'component:default/nope', 'api:default/billing-api'] })
).items.map(e => (e ? e.metadata.name : null));
summary.facets = (await client.getEntityFacets({ facets: ['kind', 'spec.type'], filter: { kind: 'component' } })).facets;

const validation = await client.validateEntity(
  { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'bad name!' }, spec: {} },
  'url:https://example.com/catalog-info.yaml',
);
summary.validation = { valid: validation.valid, errors: validation.valid ? 0 : validation.errors.length };

const dry = await client.addLocation({ type: 'file', target: process.env.PAVED_LOCATION_TARGET, dryRun: true });
summary.dryRun = { exists: dry.exists, entities: names(dry.entities) };
const added = await client.addLocation({ type: 'file', target: process.env.PAVED_LOCATION_TARGET });
summary.added = { id: added.location.id, type: added.location.type, target: added.location.target };
summary.locationById = (await client.getLocationById(added.location.id))?.target;
summary.locations = (await client.getLocations()).items.length;
await client.refreshEntity('component:default/billing');
await client.removeLocationById(added.location.id);
summary.removed = (await client.getLocationById(added.location.id)) === undefined;

console.log(JSON.stringify(summary));
