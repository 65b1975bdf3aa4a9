"""`dnssync verify`: ask every provider's nameservers, directly, whether they serve
what git says. `engine` asks the questions; the other modules decide what to ask
and judge the answers."""
