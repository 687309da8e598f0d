// The kill -9 campaign (test/node/_crash-campaign.ts) in Node.
import { crashCampaign } from './_crash-campaign.ts';

crashCampaign('node');
