// gocker: placeholder, replaced by the console implementation.
return 125;
