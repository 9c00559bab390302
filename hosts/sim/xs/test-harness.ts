// placeholder: replaced by the XS test harness
export {};
