-- A neutralized copy of a database (staging, a developer's restore) must never
-- reach the production Mollie account: blank every Mollie credential.
UPDATE res_company
   SET mollie_test_api_key = NULL,
       mollie_live_api_key = NULL,
       mollie_org_access_token = NULL,
       mollie_mode = 'test';
