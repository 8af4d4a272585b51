import{u as e}from"./index-rOkG-6Zx.js";function t(){return e("section",{children:e("h1",{children:"Request"})})}export{t as RequestView};
