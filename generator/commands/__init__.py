"""The commands beyond render: the timed plan (`script`), `show`, `new`, `validate`, the offline
library page (`library`) and the terminal player (`play`)."""
