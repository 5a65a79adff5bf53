// gocker-init: placeholder, replaced by the init implementation.
return 125;
