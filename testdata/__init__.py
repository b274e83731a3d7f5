"""Test data for supplyflow.

`generator` (the API: `generate`, `Scenario`, `Record`, `SCENARIOS`) builds seeded
scenarios from `world`/`stories` (the valid supply chain), `render` (how producers spell
values) and `faults`/`faults_build` (bad records, labelled with SPEC §3 codes); `files`
reads and writes them as JSONL.
"""
