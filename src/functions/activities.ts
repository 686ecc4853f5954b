// One instance of each activity module per process, shared by every function file: the plan activities hold the
// dependency index and its refresh queue, so a second copy would mean a second index and a second refresh queue.
import { lazy } from '../activities/deps.js';
import { createPlanActivities } from '../activities/plan/index.js';
import { createCredentialActivities } from '../activities/credentials/index.js';

export const planActivities = lazy(createPlanActivities);
export const credentialActivities = lazy((deps) =>
  createCredentialActivities(deps, { index: () => planActivities().index() }),
);
