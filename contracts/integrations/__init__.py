"""One settings model per integration type: what a provisioning file may say, validated."""
