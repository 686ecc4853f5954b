// The app's entry point (package.json "main"): importing a module registers its functions with @azure/functions.
// Core Tools and the local host both load this file; nothing here knows which one is running it.
import './hooks.js'; // activities log through their invocation context
import './health.js';
import './plan.js'; // GET/POST /api/plan, /api/graph, /api/index — dependency index, plans, preflight
import './cascade.js'; // onRegistryEvent, rebuild orchestrations and run activities
import './rebuilds.js'; // /api/rebuilds: start, list, status, cancel
import './nativeTriggers.js'; // activities for ACR's own base-image triggers (CASCADE_NATIVE_TRIGGERS)
import './credentials.js'; // onVaultEvent, credential timer, /api/credentials, credential orchestration
import './retention.js'; // daily purge of ended instances and history rows (CASCADE_HISTORY_RETENTION_DAYS)
import './views.js'; // /api/rebuilds/{id}/tasks, /api/index/tasks: per-task live view of a cascade, index listing
import './dashboard.js'; // /api/dashboard: the web dashboard (built from web/ into dist/web)
