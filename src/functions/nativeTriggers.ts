// Activities for ACR's native base-image triggers (CASCADE_NATIVE_TRIGGERS), used by the rebuildTask orchestration.
import * as df from 'durable-functions';
import {
  NativeTriggerActivityNames,
  type DisableNativeTriggerInput,
  type FindNativeRunInput,
} from '../contracts/index.js';
import { lazy } from '../activities/deps.js';
import { createNativeTriggerActivities } from '../activities/nativeTriggers/index.js';

const activities = lazy(createNativeTriggerActivities);

df.app.activity(NativeTriggerActivityNames.findNativeRun, {
  handler: (input: FindNativeRunInput) => activities().findNativeRun(input),
});
df.app.activity(NativeTriggerActivityNames.disableNativeTrigger, {
  handler: (input: DisableNativeTriggerInput) => activities().disableNativeTrigger(input),
});
