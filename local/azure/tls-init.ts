// Generates the shared local CA before any process that must trust it starts (NODE_EXTRA_CA_CERTS is read at start).
import { DEFAULT_TLS_DIR, ensureTls } from './core/tls.js';

console.log(ensureTls(DEFAULT_TLS_DIR).caCertPath);
