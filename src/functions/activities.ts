// The activity modules of this worker process, each built once (on first use) over the process-wide deps. Every
// functions module takes them from here: one plan-activities instance means one dependency index and one refresh
// queue per process, shared by the plan routes, the cascade activities and the credential inventory.
import { lazy } from '../activities/deps.js';
import { createCredentialActivities } from '../activities/credentials/index.js';
import { createNativeTriggerActivities } from '../activities/nativeTriggers/index.js';
import { createPlanActivities } from '../activities/plan/index.js';
import { createReportActivities } from '../activities/report/index.js';
import { createRunActivities } from '../activities/runs/index.js';

export const planActivities = lazy(createPlanActivities);
export const runActivities = lazy((deps) =>
  createRunActivities(deps, { nativeChainPush: (image) => nativeTriggerActivities().nativeChainPush(image) }),
);
export const reportActivities = lazy(createReportActivities);
export const nativeTriggerActivities = lazy((deps) =>
  createNativeTriggerActivities(deps, { index: () => planActivities().index() }),
);
export const credentialActivities = lazy((deps) =>
  createCredentialActivities(deps, {
    index: () => planActivities().index(),
    recordTaskDetails: (reads) => planActivities().recordTaskDetails(reads),
  }),
);
